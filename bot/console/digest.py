"""`digest schedule|off|preview` typed at the console prompt (the terminal is the channel)."""

from __future__ import annotations

from datetime import UTC

from bot.console.registry import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    ConsoleContext,
    UsageError,
    console_command,
)
from bot.delivery.terminal import to_text

CONSOLE_CHANNEL_NAME = "console"
SCHEDULE_USAGE = "digest schedule daily|weekly HH:MM ZONE [WEEKDAY]"


@console_command(
    "digest schedule", SCHEDULE_USAGE, "print a digest of the digest-mode feeds on a schedule"
)
async def digest_schedule(ctx: ConsoleContext, args: list[str]) -> str:
    if len(args) not in (3, 4):
        raise UsageError("give a cadence, a time and a time zone, e.g. daily 09:00 Europe/Berlin")
    cadence, local_time, timezone = args[:3]
    weekday = args[3] if len(args) == 4 else None
    scheduled = await ctx.runtime.digests.schedule(
        guild_id=CONSOLE_GUILD_ID,
        channel_id=CONSOLE_CHANNEL_ID,
        cadence=cadence,
        local_time=local_time,
        timezone=timezone,
        weekday=weekday,
        channel_name=CONSOLE_CHANNEL_NAME,
        created_by=CONSOLE_USER_ID,
    )
    next_slot = scheduled.next_slot.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    local = scheduled.next_slot.astimezone(scheduled.schedule.zone).strftime("%Y-%m-%d %H:%M %Z")
    return f"Digest {scheduled.describe()}. Next one: {local} ({next_slot})."


@console_command("digest off", "digest off", "stop the scheduled digest")
async def digest_off(ctx: ConsoleContext, args: list[str]) -> str:
    if await ctx.runtime.digests.off(CONSOLE_CHANNEL_ID):
        return "Digest turned off."
    return "There was no digest; nothing changed."


@console_command("digest preview", "digest preview", "what the digest would print now")
async def digest_preview(ctx: ConsoleContext, args: list[str]) -> str:
    preview = await ctx.runtime.digests.preview(
        CONSOLE_CHANNEL_ID, channel_name=CONSOLE_CHANNEL_NAME
    )
    since = preview.period_start.strftime("%Y-%m-%d %H:%M UTC")
    if not preview.messages:
        return f"Nothing for the digest yet: no new items from digest-mode feeds since {since}."
    return "\n\n".join(to_text(message) for message in preview.messages)
