"""`follow`, `unfollow` and `following` typed at the console prompt: the Discord answers, read
back.

The operator is the console's one member (CONSOLE_USER_ID) in its one guild; a new item that
matches one of their topics prints in the terminal (the console's "DM").
"""

from __future__ import annotations

import argparse

from bot.console.registry import (
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    Arg,
    ConsoleContext,
    UsageError,
    command,
    query_text,
)
from bot.delivery.terminal import to_text
from bot.features.follow import render

WORDS = Arg("words", nargs="*", metavar="WORDS")


@command("follow", "print new items that match these words", WORDS, Arg("--feed", metavar="X"))
async def follow(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    if not args.words:
        raise UsageError('what to follow: words, "a phrase", -leave_out, this OR that')
    answer = await ctx.runtime.follows.follow(
        CONSOLE_GUILD_ID, CONSOLE_USER_ID, query_text(args.words), feed=args.feed
    )
    return to_text(render.render_follow(answer))


@command("unfollow", "stop following a topic", WORDS)
async def unfollow(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    if not args.words:
        raise UsageError("which topic: its words, as `following` lists them")
    removed = await ctx.runtime.follows.unfollow(
        CONSOLE_GUILD_ID, CONSOLE_USER_ID, query_text(args.words)
    )
    return to_text(render.render_unfollow(removed))


@command("following", "the topics you follow, with match counts")
async def following(ctx: ConsoleContext, args: argparse.Namespace) -> str:
    topics = await ctx.runtime.follows.following(CONSOLE_GUILD_ID, CONSOLE_USER_ID)
    return to_text(render.render_following(topics))
