"""`/why item`: a thin adapter to the why service. Every member may ask; the answer names only
the channels the member can see (View Channel as discord.py computes it from roles and
overwrites), never another."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.features.why.render import render_why
from bot.features.why.service import MAX_ITEM_CHARS, ChannelWhy
from cogs._common import GuildCog, Interaction, archive_item_choices, guild_of, reply
from cogs.search import in_time

if TYPE_CHECKING:
    from bot.app import DigestBot


def _can_see(guild: discord.Guild, member: discord.Member | None, line: ChannelWhy) -> bool:
    channel = guild.get_channel_or_thread(line.channel_id)
    if member is None or channel is None:  # unknown here: never shown
        return False
    return channel.permissions_for(member).view_channel


class WhyCog(GuildCog):
    @app_commands.command(name="why", description="Why an item was posted, or why not")
    @app_commands.guild_only()
    @app_commands.describe(item="The item's link, or words from its title (pick from the list)")
    @app_commands.autocomplete(item=archive_item_choices)
    async def why(
        self, interaction: Interaction, item: app_commands.Range[str, 1, MAX_ITEM_CHARS]
    ) -> None:
        guild = guild_of(interaction)
        answer = await in_time(interaction, self.runtime.why.why(guild.id, item))
        user = interaction.user
        member = user if isinstance(user, discord.Member) else guild.get_member(user.id)
        visible = [line for line in answer.channels if _can_see(guild, member, line)]
        await reply(interaction, render_why(replace(answer, channels=visible)))


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(WhyCog(bot))
