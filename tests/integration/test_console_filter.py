"""Console `feed filter …`: the same service and answer as /feed filter."""

from __future__ import annotations

from pathlib import Path

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import CONSOLE_GUILD_ID, ConsoleContext
from bot.console.repl import run_command
from bot.runtime import Runtime
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed


async def test_console_feed_filter_sets_shows_refuses_and_clears(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    items = [{"title": "Sponsored: a deal", "guid": "1"}, {"title": "Real news", "guid": "2"}]
    feed_server.set("/f", rss_feed(items, title="Console Letter"))
    runtime = await Runtime.open(bot_settings(tmp_path))
    try:
        ctx = ConsoleContext(runtime, lambda _: None)
        await run_command(ctx, f"feed add {feed_server.url('/f')} --backfill 0")
        answer = await run_command(ctx, "feed filter console letter --exclude sponsored")
        assert answer is not None
        assert 'Filter of Console Letter in #console now: never items matching "sponsored"' in (
            answer.replace("*", "")
        )
        assert "would post 1 of the last 2" in answer
        refused = await run_command(ctx, "feed filter console letter --pattern '(?=x)'")
        assert refused is not None and "lookahead" in refused and "Nothing changed" in refused
        (view,) = await runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
        assert view.subscription.filter is not None
        assert view.subscription.filter.pattern is None
        listed = await run_command(ctx, "feed list")
        assert listed is not None and 'filter: never items matching "sponsored"' in listed
        cleared = await run_command(ctx, "feed filter console letter --clear")
        assert cleared is not None and "Removed the filter" in cleared
        (view,) = await runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
        assert view.subscription.filter is None
    finally:
        await runtime.close()
