"""`/digest schedule|off|preview`: thin adapters from interactions to the digest service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.discord_message import to_embed
from bot.features.digest.schedule import matching_timezones
from bot.features.digest.service import DigestPreview
from bot.safe import escape_markdown, neutralize_mentions
from cogs._common import postable_channel, reply, require_manage_guild, runtime_of

if TYPE_CHECKING:
    from bot.app import DigestBot

Interaction = discord.Interaction["DigestBot"]
Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Ephemeral preview messages shown at most; a longer digest says how many more there are.
PREVIEW_MESSAGES = 5


def _safe(text: str) -> str:
    return neutralize_mentions(escape_markdown(text))


def _ts(moment_ts: float, style: str = "f") -> str:
    return f"<t:{int(moment_ts)}:{style}>"


async def _timezone_choices(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=name, value=name) for name in matching_timezones(current)]


async def _digest_mode_feeds(interaction: Interaction, channel_id: int) -> int:
    assert interaction.guild is not None
    views = await runtime_of(interaction).subscriptions.for_guild(interaction.guild.id, channel_id)
    return sum(1 for v in views if v.subscription.mode == "digest")


class DigestCog(commands.Cog):
    digest = app_commands.Group(
        name="digest",
        description="A daily or weekly digest of a channel's feeds",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: DigestBot) -> None:
        self.bot = bot

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
        channel: discord.TextChannel,
        cadence: Literal["daily", "weekly"],
        time: str,
        timezone: str,
        weekday: Weekday | None = None,
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        if await postable_channel(interaction, channel) is None:
            return
        try:
            scheduled = await runtime_of(interaction).digests.schedule(
                guild_id=interaction.guild.id,
                channel_id=channel.id,
                cadence=cadence,
                local_time=time,
                timezone=timezone,
                weekday=weekday,
                channel_name=channel.name,
                created_by=interaction.user.id,
            )
        except ValueError as exc:
            await reply(interaction, f"Sorry, I couldn't set that digest: {_safe(str(exc))}")
            return
        next_ts = scheduled.next_slot.timestamp()
        lines = [
            f"✅ {channel.mention} gets a digest {scheduled.describe()}. "
            f"Next one: {_ts(next_ts, 'F')} ({_ts(next_ts, 'R')})."
        ]
        if not await _digest_mode_feeds(interaction, channel.id):
            lines.append(
                "No feed is collected for it yet: add one with `/feed add … mode:digest`, "
                "or switch a feed of that channel to digest mode."
            )
        await reply(interaction, "\n".join(lines))

    @digest.command(name="off", description="Stop a channel's digest")
    @app_commands.describe(channel="The channel whose digest stops")
    async def off(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        if not await require_manage_guild(interaction):
            return
        if await runtime_of(interaction).digests.off(channel.id):
            await reply(
                interaction,
                f"Digest for {channel.mention} turned off. Its digest-mode feeds keep being "
                "collected; schedule it again with `/digest schedule`.",
            )
        else:
            await reply(interaction, f"{channel.mention} has no digest; nothing changed.")

    @digest.command(
        name="preview", description="Show (only to you) what a channel's digest would hold now"
    )
    @app_commands.describe(channel="The channel whose digest to preview")
    async def preview(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        if not await require_manage_guild(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await runtime_of(interaction).digests.preview(channel.id, channel_name=channel.name)
        await _send_preview(interaction, channel, found)


async def _send_preview(
    interaction: Interaction, channel: discord.TextChannel, found: DigestPreview
) -> None:
    when = _ts(found.period_start.timestamp())
    if not found.messages:
        await reply(
            interaction,
            f"Nothing for {channel.mention}'s digest yet: its digest-mode feeds have no new "
            f"items since {when}.",
        )
        return
    none = discord.AllowedMentions.none()
    shown = found.messages[:PREVIEW_MESSAGES]
    for index, message in enumerate(shown):
        content = message.content
        if index == 0:
            intro = "Preview (only you see this):"
            content = f"{intro}\n{content}" if content else intro
        await interaction.followup.send(
            content=content or "",
            embeds=[to_embed(embed) for embed in message.embeds],
            ephemeral=True,
            allowed_mentions=none,
        )
    hidden = len(found.messages) - len(shown)
    if hidden:
        await reply(interaction, f"…and {hidden} more message(s) in the real digest.")


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(DigestCog(bot))
