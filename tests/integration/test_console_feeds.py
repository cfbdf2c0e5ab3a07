"""Console `feed …` commands print feed text without terminal control characters."""

from __future__ import annotations

from pathlib import Path

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import CONSOLE_GUILD_ID, ConsoleContext
from bot.console.repl import run_command
from bot.runtime import Runtime
from bot.store.feeds import FeedMeta
from bot.store.polls import PollSuccess, commit_poll
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed

# Raw control characters (not well-formed XML, which feedparser reads leniently).
HOSTILE_TITLE = "\x1b]0;owned\x07\x1b[2JEvil Letter"


async def test_feed_commands_strip_control_characters_from_feed_text(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/f", rss_feed([{"title": "post", "guid": "1"}], title=HOSTILE_TITLE))
    runtime = await Runtime.open(bot_settings(tmp_path))
    printed: list[str] = []
    try:
        ctx = ConsoleContext(runtime, printed.append)
        added = await run_command(ctx, f"feed add {feed_server.url('/f')} --backfill 0")
        (feed,) = await runtime.store.feeds.all()
        assert "\x1b" not in feed.display_title  # ingest drops control characters …
        # … and the console strips them too, e.g. from an archive written by an older version.
        await commit_poll(
            runtime.store.db,
            feed.id,
            [],
            PollSuccess(0.0, 0.0, None, None, None, FeedMeta(HOSTILE_TITLE, None, None, None)),
        )
        answers = [
            added,
            await run_command(ctx, "feed list"),
            await run_command(ctx, "feed status evil"),
            await run_command(ctx, "feed remove evil"),
        ]
        (feed,) = await runtime.store.feeds.all()
        assert "\x1b" in feed.display_title
        for answer in answers:
            assert answer is not None and "Evil Letter" in answer
            assert "\x1b" not in answer and "\x07" not in answer
    finally:
        await runtime.close()


async def test_console_feed_mode_switches_the_consoles_feed_like_feed_mode(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/f", rss_feed([{"title": "post", "guid": "1"}], title="Mode Letter"))
    runtime = await Runtime.open(bot_settings(tmp_path))
    try:
        ctx = ConsoleContext(runtime, lambda _: None)
        await run_command(ctx, f"feed add {feed_server.url('/f')} --mode digest --backfill 0")
        answer = await run_command(ctx, "feed mode instant mode letter")
        assert answer == "That feed is now in instant mode in #console."
        (view,) = await runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
        assert view.subscription.mode == "instant"
        refused = await run_command(ctx, "feed mode digest nothing like it")
        assert refused == "Sorry: This server doesn't follow a feed by that name."
        usage = await run_command(ctx, "feed mode sometimes mode letter")
        assert usage is not None and "invalid choice: 'sometimes'" in usage
    finally:
        await runtime.close()


async def test_an_empty_feed_list_names_the_consoles_own_command(tmp_path: Path) -> None:
    """Console mode reads the Discord answer back, but tells how to add a feed where the
    answer is read: `feed add URL` at this prompt, not the slash command."""
    runtime = await Runtime.open(bot_settings(tmp_path))
    try:
        answer = await run_command(ConsoleContext(runtime, lambda _: None), "feed list")
        assert answer == "No feeds yet. Add one with `feed add URL`."
    finally:
        await runtime.close()
