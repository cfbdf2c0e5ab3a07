"""`feed add|list|status|remove` typed at the console prompt."""

from __future__ import annotations

import argparse

from bot.console.registry import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    ConsoleContext,
    UsageError,
    console_command,
)
from bot.features.feeds.render import describe_status, describe_subscription, shown
from bot.features.feeds.subscriptions import MAX_BACKFILL
from bot.model import SubscriptionView


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _add_parser() -> _Parser:
    parser = _Parser(prog="feed add", add_help=False)
    parser.add_argument("url")
    parser.add_argument("--mode", choices=("instant", "digest"), default=None)
    parser.add_argument("--backfill", type=int, default=1)
    return parser


@console_command(
    "feed add", "feed add URL [--mode instant|digest] [--backfill N]", "follow a feed or site"
)
async def feed_add(ctx: ConsoleContext, args: list[str]) -> str:
    parsed = _add_parser().parse_args(args)
    if not 0 <= parsed.backfill <= MAX_BACKFILL:
        raise UsageError(f"--backfill must be between 0 and {MAX_BACKFILL}")
    result = await ctx.runtime.subscriptions.subscribe(
        guild_id=CONSOLE_GUILD_ID,
        channel_id=CONSOLE_CHANNEL_ID,
        url=parsed.url,
        mode=parsed.mode,
        backfill=parsed.backfill,
        added_by=CONSOLE_USER_ID,
    )
    title = shown(result.feed.display_title, markdown=False)
    feed = f"{title} <{result.feed.url}>"
    found = f"Found the feed {title} at <{result.feed.url}>.\n" if result.discovered else ""
    if result.created:
        return (
            f"{found}Following: {feed} in {result.subscription.mode} mode; "
            f"{result.backfilled} item(s) posted now."
        )
    changed, kept = result.changes(_role)
    answer = f"{found}Already following: {feed}. "
    answer += f"Changed: {'; '.join(changed)}." if changed else "Nothing changed."
    if kept:
        answer += f" Kept: {'; '.join(kept)}."
    if result.released:
        answer += f" {result.released} item(s) that waited for the digest posted now."
    return answer


def _role(role_id: int | None) -> str:
    return "none" if role_id is None else f"role {role_id}"


async def _find(ctx: ConsoleContext, text: str) -> SubscriptionView:
    views = await ctx.runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
    wanted = text.strip().lower()
    for view in views:
        if wanted in (str(view.subscription.feed_id), view.feed_url.lower()):
            return view
    matches = [v for v in views if wanted in v.display_title.lower() or wanted in v.feed_url]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no followed feed matches {text!r}; see `feed list`")
    raise UsageError(f"{text!r} matches {len(matches)} feeds; use the id from `feed list`")


@console_command("feed list", "feed list", "the feeds this console follows and their health")
async def feed_list(ctx: ConsoleContext, args: list[str]) -> str:
    views = await ctx.runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
    if not views:
        return "No feeds yet. Try: feed add https://www.interconnects.ai"
    return "\n".join(describe_subscription(v, markdown=False) for v in views)


@console_command("feed status", "feed status FEED", "last poll, errors and next poll of a feed")
async def feed_status(ctx: ConsoleContext, args: list[str]) -> str:
    if not args:
        raise UsageError("usage: feed status FEED (an id, URL or part of the title)")
    view = await _find(ctx, " ".join(args))
    return describe_status(view, now=ctx.runtime.clock(), markdown=False)


@console_command("feed remove", "feed remove FEED", "stop following a feed")
async def feed_remove(ctx: ConsoleContext, args: list[str]) -> str:
    if not args:
        raise UsageError("usage: feed remove FEED (an id, URL or part of the title)")
    view = await _find(ctx, " ".join(args))
    await ctx.runtime.subscriptions.unsubscribe(
        CONSOLE_GUILD_ID, view.subscription.feed_id, CONSOLE_CHANNEL_ID
    )
    return f"Stopped following {shown(view.display_title, markdown=False)}."
