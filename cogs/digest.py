"""`/digest schedule|off|preview`: parse the interaction, call the digest service, send the
answer `bot.features.digest.render` renders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from bot.features.digest import render
from bot.features.digest.schedule import matching_timezones
from cogs._common import GuildCog, Interaction, PostTarget, guild_of, postable_channel, reply

if TYPE_CHECKING:
    from bot.app import DigestBot

Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


async def _timezone_choices(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=name, value=name) for name in matching_timezones(current)]


class DigestCog(GuildCog):
    digest = app_commands.Group(
        name="digest",
        description="A daily or weekly digest of a channel's feeds",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    manage_guild = True

    @digest.command(name="schedule", description="Send a channel one digest a day or a week")
    @app_commands.describe(
        channel="Where the digest goes (its digest-mode feeds are collected)",
        cadence="daily, or weekly on the given weekday",
        time="Local time of day, 24-hour HH:MM, e.g. 09:00",
        timezone="Time zone (IANA name), e.g. Europe/Berlin",
        weekday="For a weekly digest: the day it is sent",
    )
    @app_commands.autocomplete(timezone=_timezone_choices)
    async def schedule(
        self,
        interaction: Interaction,
        channel: PostTarget,
        cadence: Literal["daily", "weekly"],
        time: str,
        timezone: str,
        weekday: Weekday | None = None,
    ) -> None:
        if await postable_channel(interaction, channel) is None:
            return
        try:
            scheduled = await self.runtime.digests.schedule(
                guild_id=guild_of(interaction).id,
                channel_id=channel.id,
                cadence=cadence,
                local_time=time,
                timezone=timezone,
                weekday=weekday,
                channel_name=channel.name,
                created_by=interaction.user.id,
            )
        except ValueError as exc:
            await reply(interaction, render.render_schedule_refused(str(exc)))
            return
        await reply(interaction, render.render_scheduled(scheduled, channel=channel.mention))

    @digest.command(name="off", description="Stop a channel's digest")
    @app_commands.describe(channel="The channel whose digest stops")
    async def off(self, interaction: Interaction, channel: PostTarget) -> None:
        turned_off = await self.runtime.digests.off(channel.id)
        await reply(interaction, render.render_off(turned_off, channel=channel.mention))

    @digest.command(
        name="preview", description="Show (only to you) what a channel's digest would hold now"
    )
    @app_commands.describe(channel="The channel whose digest to preview")
    async def preview(self, interaction: Interaction, channel: PostTarget) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        locale = await self.runtime.languages.for_channel(channel.id, guild_of(interaction).id)
        found = await self.runtime.digests.preview(
            channel.id, channel_name=channel.name, locale=locale
        )
        for message in render.render_preview(found, channel=channel.mention):
            await reply(interaction, message)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(DigestCog(bot))
