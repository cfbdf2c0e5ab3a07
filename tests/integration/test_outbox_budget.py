"""The outbox spends Discord's budget (the global pace and each target's bucket), on a real SQLite
file with a recording Sender and an injected monotonic clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest_asyncio

from bot.delivery.budget import DiscordLimits, LocalBudget
from bot.delivery.outbox import Outbox, OutboxClock
from bot.model import DeliveryRow, Message
from bot.store import Store
from tests.deliveryfakes import (
    FakeTime,
    RecordingSender,
    SendCall,
    add_polled_feed,
    make_outbox,
    poll_items,
    until,
)

GUILD = 111_111_111_111_111_111
FIRST_CHANNEL = 900_000_000_000_000_100


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


class StampedSender(RecordingSender):
    """Records the monotonic time of every send, per target."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self.time = time
        self.sent_at: list[tuple[float, tuple[str, int]]] = []

    def _record(self, call: SendCall, delivery: DeliveryRow) -> int:
        self.sent_at.append((self.time.mono, call.target))
        return super()._record(call, delivery)

    def times(self, channel_id: int | None = None) -> list[float]:
        return [t for t, target in self.sent_at if channel_id in (None, target[1])]


def default_outbox(store: Store, sender: RecordingSender, time: FakeTime) -> Outbox:
    """The outbox with its default settings (the budget as shipped), on `time`'s clocks."""
    return make_outbox(
        store,
        sender,
        clock=time.clock,
        monotonic=time.monotonic,
        sleep=time.sleep,
        jitter=lambda: 0.5,
    )


async def one_item_in_channels(store: Store, time: FakeTime, count: int) -> list[int]:
    """A feed followed by `count` channels, with one new item: one post due in each."""
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    channels = [FIRST_CHANNEL + n for n in range(count)]
    for channel in channels:
        await store.subscriptions.add(GUILD, channel, feed_id, added_by=None, now=1)
    await poll_items(store, feed_id, ["a-1"], now=time.now)
    return channels


async def test_posts_to_many_channels_go_out_at_discords_global_pace(store: Store) -> None:
    """40 posts to 40 channels take under a second (Discord allows 50 requests/s; the old pace
    of 20/s took two), and no two requests are closer than 1/50 s."""
    time = FakeTime()
    await one_item_in_channels(store, time, 40)
    sender = StampedSender(time)

    assert await default_outbox(store, sender, time).drain() == 40

    stamps = sorted(sender.times())
    assert len(stamps) == 40
    assert stamps[-1] - stamps[0] < 1.0
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 1 / 50


async def test_a_delivery_of_several_messages_waits_for_its_channels_bucket(
    store: Store,
) -> None:
    """The 6th message of one delivery within 5 s of the 1st waits for the channel's bucket
    (5 per 5 s) instead of going out at once (which Discord answers 429)."""
    time = FakeTime()
    [channel] = await one_item_in_channels(store, time, 1)
    sender = StampedSender(time)

    async def seven_messages(delivery: DeliveryRow) -> Sequence[Message]:
        return [Message(content=f"part {n}") for n in range(1, 8)]

    clock = OutboxClock(wall=time.clock, sleep=time.sleep, jitter=lambda: 0.5)
    budget = LocalBudget(DiscordLimits(), time.monotonic, time.sleep)  # Discord's own limits
    worker = Outbox(store, sender, seven_messages, budget=budget, clock=clock)
    assert await worker.drain() == 1

    times = sender.times(channel)
    assert [c.text for c in sender.calls] == [f"part {n}" for n in range(1, 8)]
    assert times[5] - times[0] >= 5.0
    assert times[6] - times[1] >= 5.0


class BlockingSender(StampedSender):
    """Holds every send to one channel until released."""

    def __init__(self, time: FakeTime, blocked: int) -> None:
        super().__init__(time)
        self.blocked = blocked
        self.release = asyncio.Event()

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int:
        if delivery.target_id == self.blocked:
            await self.release.wait()
        return await super().send(delivery, message, nonce=nonce)


async def test_a_slow_send_does_not_hold_up_the_other_channels(store: Store) -> None:
    """A worker starts the next delivery as soon as it is free: while one channel's send
    hangs, another channel's posts keep going out, in order."""
    time = FakeTime()
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    slow, quick = FIRST_CHANNEL, FIRST_CHANNEL + 1
    for channel in (slow, quick):
        await store.subscriptions.add(GUILD, channel, feed_id, added_by=None, now=1)
    await poll_items(store, feed_id, ["a-3", "a-2", "a-1"], now=time.now)
    sender = BlockingSender(time, slow)
    drain = asyncio.create_task(default_outbox(store, sender, time).drain())
    try:
        await until(lambda: len(sender.titles_for(quick)) == 3, what="the quick channel's posts")
        assert sender.titles_for(slow) == []
        sender.release.set()
        assert await asyncio.wait_for(drain, timeout=30) == 6
    finally:
        sender.release.set()
        drain.cancel()
    assert sender.titles_for(quick) == ["Post a-1", "Post a-2", "Post a-3"]
    assert sender.titles_for(slow) == ["Post a-1", "Post a-2", "Post a-3"]
