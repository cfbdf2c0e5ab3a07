"""A repeated `/feed add` (the README's way to resume a paused subscription) changes only the
options given: the subscription service on a real SQLite file and a loopback feed server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import CONSOLE_CHANNEL_ID, ConsoleContext
from bot.console.repl import run_command
from bot.runtime import Runtime
from bot.store import Store
from tests.deliveryfakes import poll_items
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed

GUILD = 111_111_111_111_111_111
CH = 900_000_000_000_000_001
ROLE = 700_000_000_000_000_007
ADMIN = 555_555_555_555_555_555
START = 1_714_550_400.0  # 2024-05-01T08:00:00Z


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


def letter() -> str:
    return rss_feed(
        [{"title": "First", "guid": "post-1", "link": "https://letter.example.com/p/1"}],
        title="The Letter",
        link="https://letter.example.com/",
    )


async def test_a_repeated_feed_add_keeps_mode_and_role_ping(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/feed.xml", letter())
    url = feed_server.url("/feed.xml")
    clock = Clock(START)
    settings = bot_settings(tmp_path)
    runtime = Runtime(settings, await Store.open(settings.db_path), clock=clock)
    try:
        subs = runtime.subscriptions
        first = await subs.subscribe(
            guild_id=GUILD,
            channel_id=CH,
            url=url,
            mode="digest",
            mention_role_id=ROLE,
            backfill=0,
            added_by=ADMIN,
        )
        assert first.created and (first.subscription.mode, first.subscription.mention_role_id) == (
            "digest",
            ROLE,
        )
        await runtime.store.deliveries.pause_target("channel", CH, "Missing Access", START)

        # The README's advice for a paused subscription: run `/feed add` again, no options.
        clock.now += 60
        again = await subs.subscribe(guild_id=GUILD, channel_id=CH, url=url, added_by=ADMIN)
        assert not again.created and again.backfilled == 0
        stored = await runtime.store.subscriptions.find(CH, first.feed.id)
        assert stored is not None and not stored.paused
        assert (stored.mode, stored.mention_role_id) == ("digest", ROLE)
        changed, kept = again.changes(lambda role: f"role {role}")
        assert changed == ["resumed (it was paused because Missing Access)"]
        assert kept == ["digest mode", f"role ping role {ROLE}"]

        # Only what is given changes: the mode goes back to instant, the ping stays, and the
        # item that waited for the digest is posted rather than lost.
        clock.now += 60
        await poll_items(runtime.store, first.feed.id, ["w-1"], now=clock.now)
        clock.now += 60
        instant = await subs.subscribe(guild_id=GUILD, channel_id=CH, url=url, mode="instant")
        assert (instant.subscription.mode, instant.subscription.mention_role_id) == (
            "instant",
            ROLE,
        )
        assert instant.released == 1
        assert instant.changes(lambda role: f"role {role}") == (
            ["mode digest → instant"],
            [f"role ping role {ROLE}"],
        )
    finally:
        await runtime.close()


async def test_a_page_without_a_feed_link_names_the_followed_feed_it_found(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/feed", letter())
    feed_server.set(
        "/about",
        "<html><head><title>About</title></head><body>No feed link here.</body></html>",
        content_type="text/html",
    )
    runtime = await Runtime.open(bot_settings(tmp_path))
    printed: list[str] = []
    try:
        ctx = ConsoleContext(runtime, printed.append)
        added = await run_command(
            ctx, f"feed add {feed_server.url('/feed')} --mode digest --backfill 0"
        )
        assert added is not None and added.startswith(
            "✅ Following The Letter in #console (digest mode)."
        )
        (feed,) = await runtime.store.feeds.all()

        # Discovery falls back to the host's /feed: the feed this console already follows.
        answer = await run_command(ctx, f"feed add {feed_server.url('/about')}")
        assert answer is not None
        assert answer.startswith(f"Found the feed The Letter at <{feed.url}>.\n")
        assert "✅ Already following The Letter in #console." in answer
        assert "Nothing changed. Kept: digest mode; role ping none." in answer
        stored = await runtime.store.subscriptions.find(CONSOLE_CHANNEL_ID, feed.id)
        assert stored is not None and stored.mode == "digest"
        assert len(await runtime.store.feeds.all()) == 1
    finally:
        await runtime.close()
