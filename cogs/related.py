"""`/related item`: a thin adapter to the related-items service. Every member may ask; the
answer is ephemeral and pages with Previous / Next (cogs.search's view: its results open it too).
The item is resolved as `/why` resolves it (autocomplete value, link or words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands

from bot.features.related.render import render_related
from bot.features.why.service import MAX_ITEM_CHARS
from cogs._common import GuildCog, Interaction, archive_item_choices, guild_of, reply
from cogs.search import in_time, related_view

if TYPE_CHECKING:
    from bot.app import DigestBot


class RelatedCog(GuildCog):
    @app_commands.command(name="related", description="An item and what else the archive knows")
    @app_commands.guild_only()
    @app_commands.describe(item="The item's link, or words from its title (pick from the list)")
    @app_commands.autocomplete(item=archive_item_choices)
    async def related(
        self, interaction: Interaction, item: app_commands.Range[str, 1, MAX_ITEM_CHARS]
    ) -> None:
        work = self.runtime.related.related(guild_of(interaction).id, item)
        answer = await in_time(interaction, work)
        await reply(interaction, render_related(answer), related_view(interaction, answer))


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(RelatedCog(bot))
