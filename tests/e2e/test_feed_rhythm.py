"""/feed status and /feed list draw a feed's last 12 weeks as a sparkline, its newest item and
its failing weeks marked, through the real bot, discord.py and the fake Discord."""

from __future__ import annotations

import time as wall
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, StoredMessage
from tests.feedserver import FeedServer, rss_feed

NBSP = "\u00a0"


class ShiftedClock:
    """The real clock plus an offset the test moves forward (to make the next poll due)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return wall.time() + self.offset


def feed_with_rhythm() -> str:
    """Five items 50 days ago (the 8th week back), two 15 days ago, one 10 days ago."""
    now = datetime.now(UTC)
    ages = [50] * 5 + [15] * 2 + [10]
    items = [
        {
            "title": f"Post {n}",
            "link": f"https://rhythm.example.com/p/{n}",
            "guid": f"post-{n}",
            "description": f"Post number {n}.",
            "pubDate": format_datetime(now - timedelta(days=days)),
        }
        for n, days in enumerate(ages)
    ]
    return rss_feed(
        list(reversed(items)), title="Rhythm Letter", link="https://rhythm.example.com/"
    )


async def test_status_and_list_draw_the_last_twelve_weeks_with_newest_item_and_failures(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/rhythm.xml", feed_with_rhythm())
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        url = feed_server.url("/rhythm.xml")
        await runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.news_id, url=url, backfill=0
        )

        async def command(name: str, options: dict[str, Any]) -> StoredMessage:
            handle = await fake.invoke_command(
                name,
                options,
                guild_id=world.guild_id,
                channel_id=world.general_id,
                user_id=world.admin_id,
            )
            return await handle.final_message(timeout=10)

        healthy = (await command("feed status", {"feed": url})).content
        assert "Items per week, last 12 weeks (oldest first):" in healthy
        assert "`····█····▄▂·` 8 items" in healthy
        assert f"`{NBSP * 10}▲{NBSP}` ▲ newest item" in healthy

        # The feed starts failing: this week is marked failing, in status and in the list.
        feed_server.set("/rhythm.xml", "upstream broke", status=500, content_type="text/plain")
        clock.offset += 2 * 3600

        async def failed() -> bool:
            await runtime.poller.poll_due()
            feed = await runtime.store.feeds.by_url(url)
            return feed is not None and feed.consecutive_errors > 0

        await until(failed, what="the failed poll recorded")
        failing = (await command("feed status", {"feed": url})).content
        assert "`····█····▄▂·` 8 items" in failing
        assert f"`{NBSP * 10}▲✗` ▲ newest item · ✗ failing" in failing

        listed = await command("feed list", {})
        line = str(listed.embeds[0]["description"])
        assert "`····█····▄▂✗`" in line
        assert f"<{url}>" in line
        assert "new items last found <t:" in line
