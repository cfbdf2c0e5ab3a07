"""A podcast episode's details (by-line, duration, "Listen" link) in every view that shows an
item: the channel post, /latest, /search and the digest, through the real bot and the fake
Discord."""

from __future__ import annotations

import time as wall
from pathlib import Path
from typing import Any

from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, StoredMessage
from tests.feedserver import FeedServer, rss_feed

AUDIO = "https://cdn.example.com/episode-7.mp3"
LISTEN = f"Listen: [Audio (mp3)]({AUDIO})"


class ShiftedClock:
    """The real clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return wall.time() + self.offset


def podcast(*, with_episode: bool) -> str:
    items: list[dict[str, Any]] = [
        {
            "title": "Trailer",
            "link": "https://pod.example.com/trailer",
            "guid": "trailer",
            "description": "What this show is about.",
            "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT",
        }
    ]
    if with_episode:
        items.insert(
            0,
            {
                "title": "Episode 7: distillation",
                "link": "https://pod.example.com/7",
                "guid": "ep-7",
                "description": "We talk about distillation of open models.",
                "pubDate": "Tue, 02 Jan 2024 10:00:00 GMT",
                "author": "Nathan Host",
                "duration": "1:02:05",
                "enclosure": {"url": AUDIO, "type": "audio/mpeg", "length": "1000"},
            },
        )
    return rss_feed(items, title="The Pod", link="https://pod.example.com/")


def assert_details(text: str) -> None:
    assert "by Nathan Host" in text, text
    assert "Duration: 1:02:05" in text, text
    assert LISTEN in text, text


async def test_every_view_of_an_episode_shows_author_duration_and_listen_link(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/pod.xml", podcast(with_episode=False))
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        url = feed_server.url("/pod.xml")
        # The news channel gets posts; the general channel collects the feed for its digest.
        await runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.news_id, url=url, backfill=0
        )
        await runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.general_id, url=url, mode="digest"
        )
        feed_server.set("/pod.xml", podcast(with_episode=True))
        clock.offset += 3600

        async def polled() -> bool:
            await runtime.poller.poll_due()
            return await runtime.store.items.count() >= 2

        await until(polled, what="the episode archived")

        (post,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        card = post.embeds[0]
        fields = {f["name"]: f["value"] for f in card.get("fields", [])}
        assert card["footer"]["text"] == "by Nathan Host"
        assert fields == {"Duration": "1:02:05", "Listen": f"[Audio (mp3)]({AUDIO})"}

        async def command(name: str, options: dict[str, Any], user: int) -> StoredMessage:
            handle = await fake.invoke_command(
                name, options, guild_id=world.guild_id, channel_id=world.general_id, user_id=user
            )
            return await handle.final_message(timeout=10)

        latest = await command("latest", {"count": 1}, world.member_id)
        assert latest.embeds[0]["title"] == "Episode 7: distillation"
        assert_details(latest.embeds[0]["description"])

        found = await command("search", {"query": "distillation"}, world.member_id)
        assert "Episode 7" in found.embeds[0]["description"]
        assert_details(found.embeds[0]["description"])

        preview = await command("digest preview", {"channel": world.general_id}, world.admin_id)
        assert "Preview" in preview.content
        digest = " ".join(e.get("description", "") for e in preview.embeds)
        assert "Episode 7: distillation" in digest
        assert_details(digest)
