"""Console `feed mention` and `feed test`: the same services and answers as the slash commands."""

from __future__ import annotations

from pathlib import Path

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import CONSOLE_GUILD_ID, ConsoleContext
from bot.console.repl import run_command
from bot.delivery.senders import ConsoleSender
from bot.runtime import Runtime
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed


async def test_console_feed_mention_sets_checks_and_clears_the_ping(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/f", rss_feed([{"title": "post", "guid": "1"}], title="Ping Letter"))
    runtime = await Runtime.open(bot_settings(tmp_path))
    try:
        ctx = ConsoleContext(runtime, lambda _: None)
        await run_command(ctx, f"feed add {feed_server.url('/f')} --backfill 0")
        (view,) = await runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
        rules = runtime.store.subscriptions

        answer = await run_command(ctx, "feed mention ping letter --role 42 --when 'release OR v2'")
        assert answer is not None and "<@&42> only when they match" in answer
        assert await rules.mention_when(view.subscription.id) == "release OR v2"

        refused = await run_command(ctx, "feed mention ping letter --when release")
        assert refused == "Sorry: `when` needs a `role` to ping. To stop pinging, leave out both."
        assert await rules.mention_when(view.subscription.id) == "release OR v2"

        cleared = await run_command(ctx, "feed mention ping letter")
        assert cleared == "Posts of Ping Letter in #console no longer ping a role."
        assert await rules.mention_when(view.subscription.id) is None
        (after,) = await runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
        assert after.subscription.mention_role_id is None
    finally:
        await runtime.close()


async def test_console_feed_test_prints_the_newest_item_as_a_post(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set(
        "/f",
        rss_feed(
            [{"title": "Newest post", "guid": "2"}, {"title": "Older post", "guid": "1"}],
            title="Test Letter",
        ),
    )
    runtime = await Runtime.open(bot_settings(tmp_path))
    printed: list[str] = []
    try:
        ctx = ConsoleContext(runtime, printed.append)
        outbox = runtime.attach_sender(ConsoleSender(printed.append))
        await run_command(ctx, f"feed add {feed_server.url('/f')} --backfill 0")
        shown_before = len(printed)  # the add's own progress line ("Fetching …")
        answer = await run_command(ctx, "feed test letter")
        assert answer is not None and "Posting the newest item of Test Letter" in answer
        assert await outbox.drain() == 1
        (post,) = printed[shown_before:]
        assert "Newest post" in post and "Older post" not in post
    finally:
        await runtime.close()
