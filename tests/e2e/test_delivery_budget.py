"""Discord's budget through the real bot and the fake Discord, which enforces the real buckets
(50 requests/s in all, 5 posts per 5 s per channel) and counts every request outside them."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer, rss_feed

FEED_PATH = "/burst.xml"
CHANNELS = 12
NEW_ITEMS = 8  # more than a channel's bucket of 5: the last 3 wait for its next window


def feed(count: int) -> str:
    """An RSS feed of `count` items (titles "Item 0" … oldest first)."""
    items: list[dict[str, object]] = [
        {
            "title": f"Item {n}",
            "link": f"https://burst.example.com/{n}",
            "guid": f"item-{n}",
            "description": f"Item {n}, a few words.",
            "pubDate": f"Mon, 01 Jan 2024 10:{n:02d}:00 GMT",
        }
        for n in range(count)
    ]
    return rss_feed(list(reversed(items)), title="Burst", link="https://burst.example.com/")


async def test_a_burst_across_channels_keeps_every_bucket_and_each_channels_order(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    """8 new items in a feed 12 channels follow: 96 posts, each channel's in feed order, none
    outside a bucket (no 429 was needed); each channel's 6th post waited until 5 s after its
    1st, by Discord's clock."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    channels = [
        fake.state.add_text_channel(world.guild_id, f"news-{n}").id for n in range(CHANNELS)
    ]
    feed_server.set(FEED_PATH, feed(1))
    async with running_bot(tmp_path, fake) as bot:
        for channel in channels:
            await bot.runtime.subscriptions.subscribe(
                guild_id=world.guild_id,
                channel_id=channel,
                url=feed_server.url(FEED_PATH),
                backfill=0,
            )
        feed_server.set(FEED_PATH, feed(1 + NEW_ITEMS))
        for channel in channels:
            await fake.wait_for_messages(channel, NEW_ITEMS, timeout=90)

    limits = fake.ratelimits
    expected = [f"Item {n}" for n in range(1, 1 + NEW_ITEMS)]
    for channel in channels:
        assert [m.embeds[0]["title"] for m in fake.bot_posts(channel)] == expected
        assert limits.max_sends_in_window(channel, 5.0) <= 5
        sends = limits.send_times[channel]
        assert sends[5] - sends[0] >= 5.0
    assert limits.overruns == 0, limits.violations
    assert limits.max_requests_in_window(1.0) <= 50
