"""`/related item`: a thin adapter from the interaction to the related-items service.

Every member may ask; the answer is ephemeral and pages with Previous / Next (only the member
who asked can use them). The item is resolved as `/why` resolves it (autocomplete value, link
or words), in the guild's archive only.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.delivery.discord_message import send_kwargs
from bot.features.related.render import render_related
from bot.features.related.service import RelatedAnswer
from bot.features.why.service import MAX_ITEM_CHARS
from cogs._common import GuildCog, Interaction, choice_label, guild_of, reply
from cogs.search import VIEW_TIMEOUT_S, in_time

if TYPE_CHECKING:
    from bot.app import DigestBot

log = logging.getLogger(__name__)

NOT_YOURS = "Only the person who asked can page these related items."


class RelatedView(discord.ui.View):
    """Previous / Next under one member's related items (all ten are already known)."""

    def __init__(self, origin: Interaction, answer: RelatedAnswer) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        self.origin = origin
        self.owner_id = origin.user.id
        self.answer = answer
        self._show_page()

    def _show_page(self) -> None:
        self.previous_page.disabled = self.answer.page_index == 0
        self.next_page.disabled = self.answer.page_index >= self.answer.pages - 1

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous_page(
        self, interaction: Interaction, button: discord.ui.Button[RelatedView]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next_page(
        self, interaction: Interaction, button: discord.ui.Button[RelatedView]
    ) -> None:
        await self._turn(interaction, 1)

    async def _turn(self, interaction: Interaction, step: int) -> None:
        self.answer = self.answer.turned(step)
        self._show_page()
        await interaction.response.edit_message(
            **send_kwargs(render_related(self.answer)) | {"view": self}
        )

    async def on_timeout(self) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.origin.edit_original_response(view=None)


def related_view(origin: Interaction, answer: RelatedAnswer) -> RelatedView | None:
    """Paging buttons when the answer has more than one page."""
    return RelatedView(origin, answer) if answer.pages > 1 else None


class RelatedCog(GuildCog):
    async def _item_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        items = await self.runtime.why.item_choices(interaction.guild.id, current)
        return [
            app_commands.Choice(name=choice_label(i.title) or f"item {i.id}", value=f"item:{i.id}")
            for i in items
        ]

    @app_commands.command(name="related", description="An item and what else the archive knows")
    @app_commands.guild_only()
    @app_commands.describe(item="The item's link, or words from its title (pick from the list)")
    @app_commands.autocomplete(item=_item_choices)
    async def related(
        self, interaction: Interaction, item: app_commands.Range[str, 1, MAX_ITEM_CHARS]
    ) -> None:
        work = self.runtime.related.related(guild_of(interaction).id, item)
        answer = await in_time(interaction, work)
        await reply(interaction, render_related(answer), related_view(interaction, answer))


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(RelatedCog(bot))
