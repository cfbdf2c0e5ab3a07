"""`digest schedule|off|preview` typed at the console prompt (the terminal is the channel):
the `/digest` answers, read back."""

from __future__ import annotations

import argparse

from bot.console.registry import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_CHANNEL_LABEL,
    CONSOLE_CHANNEL_NAME,
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    Arg,
    ConsoleContext,
    command,
)
from bot.delivery.terminal import to_text
from bot.features.digest import render


@command(
    "digest schedule",
    "print a digest of the digest-mode feeds on a schedule",
    Arg("cadence", choices=("daily", "weekly"), metavar="daily|weekly"),
    Arg("time", metavar="HH:MM"),
    Arg("timezone", metavar="ZONE"),
    Arg("weekday", nargs="?", metavar="WEEKDAY"),
)
async def digest_schedule(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    try:
        scheduled = await ctx.runtime.digests.schedule(
            guild_id=CONSOLE_GUILD_ID,
            channel_id=CONSOLE_CHANNEL_ID,
            cadence=args.cadence,
            local_time=args.time,
            timezone=args.timezone,
            weekday=args.weekday,
            channel_name=CONSOLE_CHANNEL_NAME,
            created_by=CONSOLE_USER_ID,
        )
    except ValueError as exc:
        return to_text(render.render_schedule_refused(str(exc)))
    return to_text(render.render_scheduled(scheduled, channel=CONSOLE_CHANNEL_LABEL))


@command("digest off", "stop the scheduled digest")
async def digest_off(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    turned_off = await ctx.runtime.digests.off(CONSOLE_CHANNEL_ID)
    return to_text(render.render_off(turned_off, channel=CONSOLE_CHANNEL_LABEL))


@command("digest preview", "what the digest would print now")
async def digest_preview(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    preview = await ctx.runtime.digests.preview(
        CONSOLE_CHANNEL_ID, channel_name=CONSOLE_CHANNEL_NAME
    )
    messages = render.render_preview(preview, channel=CONSOLE_CHANNEL_LABEL)
    return "\n\n".join(to_text(message) for message in messages)
