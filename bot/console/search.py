"""`search` and `latest` typed at the console prompt: the same service and the same rendered
answers as `/search` and `/latest`, printed as text (`bot.delivery.terminal.to_text`).

Options may appear anywhere; every other word is part of the query, so `-word` excludes a word
(it is not an option) and a quoted phrase keeps its quotes.
"""

from __future__ import annotations

import argparse

from bot.console.registry import (
    CONSOLE_GUILD_ID,
    Arg,
    ConsoleContext,
    UsageError,
    command,
    query_text,
)
from bot.delivery.terminal import to_text
from bot.features.search.render import render_latest, render_search
from bot.features.search.service import LATEST_DEFAULT, LATEST_MAX


@command(
    "search",
    "search the archive of the followed feeds",
    Arg("words", nargs="*", metavar="WORDS"),
    Arg("--feed", metavar="X"),
    Arg("--since", metavar="7d"),
    Arg("--author", metavar="A"),
    Arg("--page", type=int, default=1, metavar="N"),
)
async def search(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    if not args.words:
        raise UsageError('what to search for: words, "a phrase", -leave_out, this OR that')
    if args.page < 1:
        raise UsageError("--page starts at 1")
    results = await ctx.runtime.search.search(
        CONSOLE_GUILD_ID,
        query_text(args.words),
        feed=args.feed,
        since=args.since,
        author=args.author,
        page_index=args.page - 1,
    )
    return to_text(render_search(results))


@command(
    "latest",
    "the newest items of the followed feeds",
    Arg("--feed", metavar="X"),
    Arg("--count", type=int, default=LATEST_DEFAULT, metavar="N"),
)
async def latest(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    if not 1 <= args.count <= LATEST_MAX:
        raise UsageError(f"--count must be between 1 and {LATEST_MAX}")
    rows = await ctx.runtime.search.latest(CONSOLE_GUILD_ID, feed=args.feed, count=args.count)
    return to_text(render_latest(rows))
