"""A topic DM is sent exactly once across bot restarts.

The real bot against the fake Discord on one database: the item arrives (its DM queued in the
poll's transaction) while no bot is sending, or the process dies after Discord got the DM but
before it was recorded, or Discord acts and the answer is lost; in each case the member ends up
with exactly one DM for the item.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

from bot.delivery.outbox import Outbox, OutboxSettings
from bot.model import DeliveryRow
from bot.runtime import Runtime
from tests.deliveryfakes import until
from tests.e2e.harness import bot_settings as make_settings
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, StandardGuild
from tests.feedserver import FeedServer, rss_feed

FEED = "/letter.xml"


def letter(titles: list[str]) -> str:
    items = [
        {
            "title": title,
            "link": f"https://letter.example.com/p/{n}",
            "guid": f"post-{n}",
            "content": f"<p>{title}. Some words.</p>",
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, title in enumerate(titles)
    ]
    return rss_feed(list(reversed(items)), title="The Letter")


async def follow_setup(
    tmp_path: Path, fake: FakeDiscord, server: FeedServer, world: StandardGuild, titles: list[str]
) -> None:
    """First bot process: the guild follows the letter, the member follows "rust"."""
    server.set(FEED, letter(titles))
    async with running_bot(tmp_path, fake) as bot:
        await bot.runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.news_id, url=server.url(FEED), backfill=0
        )
        handle = await fake.invoke_command(
            "follow",
            {"topic": "rust"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.member_id,
        )
        assert "Following" in (await handle.final_message(timeout=5)).content


async def arrive_while_down(
    tmp_path: Path, server: FeedServer, titles: list[str], member_id: int
) -> int:
    """No bot is connected: a poll stores the new item and queues its DM; returns the
    delivery id."""
    server.set(FEED, letter(titles))
    runtime = await Runtime.open(make_settings(tmp_path))
    try:
        await runtime.start_follows()
        outcomes = await runtime.poller.poll_due(all_feeds=True)
        (new_id,) = outcomes[0].new_item_ids
        deliveries = [
            d
            for d in await runtime.store.deliveries.for_target("user", member_id)
            if d.item_id == new_id
        ]
        assert [(d.kind, d.state) for d in deliveries] == [("dm", "pending")]
        return deliveries[0].id
    finally:
        await runtime.close()


@pytest.fixture
def world(fake_discord: FakeDiscord) -> StandardGuild:
    return fake_discord.state.add_standard_guild("Restart Guild")


async def test_an_item_that_arrived_while_the_bot_was_down_is_dmed_once(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer, world: StandardGuild
) -> None:
    fake = fake_discord
    titles = ["Archive post about rust"]
    await follow_setup(tmp_path, fake, feed_server, world, titles)
    # A first DM, so the member's DM channel id is on record.
    titles.append("Rust one")
    feed_server.set(FEED, letter(titles))
    async with running_bot(tmp_path, fake) as bot:
        await bot.runtime.poller.poll_due(all_feeds=True)
        await fake.wait_for_dms(world.member_id, 1, timeout=10)
    opened = fake.count("POST", r"/users/@me/channels$")

    titles.append("Rust two")
    delivery_id = await arrive_while_down(tmp_path, feed_server, titles, world.member_id)
    assert len(fake.dms(world.member_id)) == 1

    async with running_bot(tmp_path, fake) as bot:
        dms = await fake.wait_for_dms(world.member_id, 2, timeout=10)
        assert bot.runtime.outbox is not None
        await bot.runtime.outbox.drain()
        sent = await bot.runtime.store.deliveries.get(delivery_id)
        assert sent is not None and sent.state == "sent" and sent.message_id == dms[1].id
    assert [m.embeds[0]["title"] for m in fake.dms(world.member_id)] == ["Rust one", "Rust two"]
    # The restarted bot used the stored DM channel instead of opening it again.
    assert fake.count("POST", r"/users/@me/channels$") == opened


async def test_a_dm_sent_just_before_a_crash_is_not_sent_again(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer, world: StandardGuild
) -> None:
    fake = fake_discord
    titles = ["Archive post about rust"]
    await follow_setup(tmp_path, fake, feed_server, world, titles)
    titles.append("Rust after the crash")
    delivery_id = await arrive_while_down(tmp_path, feed_server, titles, world.member_id)

    # The crashed process had claimed the delivery ('sending', committed) and Discord had
    # posted the DM, but the process died before recording it.
    runtime = await Runtime.open(make_settings(tmp_path))
    try:
        assert await runtime.store.deliveries.mark_sending(delivery_id, time.time())
    finally:
        await runtime.close()
    dm_channel = fake.state.dm_channel_for(world.member_id)
    posted = fake.seed_message(
        dm_channel.id,
        fake.state.bot.id,
        "🔔 A new post matches your topic **rust**",
        embeds=[{"title": "Rust after the crash", "url": "https://letter.example.com/p/1"}],
        nonce=f"d{delivery_id}",
    )

    async with running_bot(tmp_path, fake) as bot:
        outbox = bot.runtime.outbox
        assert outbox is not None
        store = bot.runtime.store

        async def sent() -> bool:
            row = await store.deliveries.get(delivery_id)
            return row is not None and row.state == "sent"

        await until(sent, what="the DM found as already sent")
        row = await bot.runtime.store.deliveries.get(delivery_id)
        assert row is not None and row.state == "sent" and row.message_id == posted.id
    assert [m.id for m in fake.dms(world.member_id)] == [posted.id]
    assert fake.count("POST", rf"/channels/{dm_channel.id}/messages$") == 0


async def test_a_lost_answer_is_not_a_second_dm(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    world: StandardGuild,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Discord posts the DM, then answers 503 (discord.py does not retry it): the outbox
    retries, finds the DM by its nonce and posts nothing more."""
    monkeypatch.setattr(
        "bot.runtime.Outbox", functools.partial(Outbox, settings=OutboxSettings(backoff_base_s=0.2))
    )
    fake = fake_discord
    titles = ["Archive post about rust"]
    await follow_setup(tmp_path, fake, feed_server, world, titles)
    dm_channel = fake.state.dm_channel_for(world.member_id)
    fault = fake.faults.fail(rf"/channels/{dm_channel.id}/messages$", 503, after_effect=True)
    async with running_bot(tmp_path, fake) as bot:
        titles.append("Rust with a lost answer")
        feed_server.set(FEED, letter(titles))
        # This poll or the bot's own (1 s interval), whichever comes first, finds the item.
        await bot.runtime.poller.poll_due(all_feeds=True)
        await fake.wait_until(lambda: fault.hits == 1, timeout=10)
        store = bot.runtime.store

        async def the_dm() -> list[DeliveryRow]:
            rows = await store.deliveries.for_target("user", world.member_id)
            return [row for row in rows if row.kind == "dm"]

        async def sent() -> bool:
            return [row.state for row in await the_dm()] == ["sent"]

        await until(sent, what="the DM sent after its lost answer")
        (row,) = await the_dm()
        assert row.attempts == 2
    assert [m.embeds[0]["title"] for m in fake.dms(world.member_id)] == ["Rust with a lost answer"]
