"""`feed add|list|status|remove|mode` at the console prompt: the `/feed` answers, read back."""

from __future__ import annotations

import argparse

from bot.console.registry import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_CHANNEL_LABEL,
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    Arg,
    ConsoleContext,
    UsageError,
    command,
    query_text,
)
from bot.delivery.terminal import to_text
from bot.features.digest.service import NotSubscribedError
from bot.features.feeds import render
from bot.features.feeds.subscriptions import MAX_BACKFILL

LABELS = {CONSOLE_CHANNEL_ID: CONSOLE_CHANNEL_LABEL}
MODES = ("instant", "digest")
FEED = Arg("feed", nargs="+", metavar="FEED", help="an id, URL or part of the title")


@command(
    "feed add",
    "follow a feed or site",
    Arg("url", metavar="URL"),
    Arg("--mode", choices=MODES, default=None, metavar="instant|digest"),
    Arg("--backfill", type=int, default=1, metavar="N"),
)
async def feed_add(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    if not 0 <= args.backfill <= MAX_BACKFILL:
        raise UsageError(f"--backfill must be between 0 and {MAX_BACKFILL}")
    result = await ctx.runtime.subscriptions.subscribe(
        guild_id=CONSOLE_GUILD_ID,
        channel_id=CONSOLE_CHANNEL_ID,
        url=args.url,
        mode=args.mode,
        backfill=args.backfill,
        added_by=CONSOLE_USER_ID,
    )
    return to_text(render.render_add(result, channel=CONSOLE_CHANNEL_LABEL))


@command("feed list", "the feeds this console follows and their health")
async def feed_list(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    views = await ctx.runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
    return to_text(render.render_list(views, LABELS, how_to_add="`feed add URL`"))


@command("feed status", "last poll, errors and next poll of a feed", FEED)
async def feed_status(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    status = await ctx.runtime.subscriptions.status(CONSOLE_GUILD_ID, query_text(args.feed))
    return to_text(render.render_status(status, LABELS))


@command("feed remove", "stop following a feed", FEED)
async def feed_remove(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    removal = await ctx.runtime.subscriptions.remove(
        CONSOLE_GUILD_ID, query_text(args.feed), CONSOLE_CHANNEL_ID
    )
    return to_text(render.render_remove(removal, channel=CONSOLE_CHANNEL_LABEL))


@command(
    "feed mode",
    "switch a feed between instant posts and the digest",
    Arg("mode", choices=MODES, metavar="instant|digest"),
    FEED,
)
async def feed_mode(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    try:
        change = await ctx.runtime.subscriptions.set_mode(
            CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, query_text(args.feed), args.mode
        )
    except NotSubscribedError:
        return to_text(render.render_not_posted_in(CONSOLE_CHANNEL_LABEL))
    return to_text(render.render_mode(args.mode, change.posted, channel=CONSOLE_CHANNEL_LABEL))
