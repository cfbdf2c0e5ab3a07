"""Scheduled digests on a real SQLite file with an injected clock: one digest per slot across
DST, exactly one after downtime, nothing twice, digest vs instant mode, resumable sending."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time as wall
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import discord
import pytest
import pytest_asyncio

from bot.console.commands import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_GUILD_ID,
    ConsoleContext,
    digest_off,
    digest_preview,
    digest_schedule,
)
from bot.delivery.budget import DiscordLimits, LocalBudget
from bot.delivery.compose import DeliveryComposer
from bot.delivery.discord_sender import DiscordSender
from bot.delivery.outbox import Outbox, OutboxClock, OutboxSettings
from bot.delivery.senders import ConsoleSender, Sender
from bot.delivery.terminal import to_text
from bot.features.digest.service import DigestService, NotSubscribedError
from bot.model import DeliveryRow, Embed, Message, SubscriptionMode
from bot.runtime import Runtime
from bot.store import Store
from tests.deliveryfakes import add_polled_feed, poll_items
from tests.e2e import harness
from tests.fakediscord import FakeDiscord

GUILD = 111_111_111_111_111_111
CH = 900_000_000_000_000_001
OTHER_CH = 900_000_000_000_000_002
ADMIN = 555_555_555_555_555_555
_LINKED_ID = re.compile(r"\]\(https://example\.com/([^)\s]+)\)")
_MORE = re.compile(r"and \*\*(\d+) more\*\*")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the bot catches it)."""


@dataclass
class Post:
    delivery_id: int
    nonce: str
    content: str | None
    embeds: list[Embed]


@dataclass
class RecordingPoster:
    """A Sender that records digest messages and single posts; `crash_on(nonce)` decides
    whether the process dies right after that post reached 'Discord'."""

    posts: list[Post] = field(default_factory=list)
    items: list[tuple[int, str]] = field(default_factory=list)  # (delivery id, item title)
    lookups: list[str] = field(default_factory=list)
    crash_on: Callable[[str], bool] = lambda nonce: False

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int:
        if delivery.kind != "digest":
            self.items.append((delivery.target_id, message.embeds[0].title or ""))
            return 10_000 + len(self.items)
        self.posts.append(Post(delivery.id, nonce, message.content, list(message.embeds)))
        if self.crash_on(nonce):
            raise Crash(nonce)
        return len(self.posts)

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        self.lookups.append(nonce)
        for index, post in enumerate(self.posts, start=1):
            if post.nonce == nonce:
                return index
        return None

    async def system_channel_for(self, guild_id: int) -> int | None:
        return None

    async def guild_name(self, guild_id: int) -> str | None:
        return None

    def linked_ids(self) -> list[str]:
        return [
            m for p in self.posts for e in p.embeds for m in _LINKED_ID.findall(e.description or "")
        ]


@pytest_asyncio.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_target)
    yield opened
    await opened.close()


def outbox(store: Store, sender: Sender, clock: Clock, service: DigestService) -> Outbox:
    return Outbox(
        store,
        sender,
        DeliveryComposer(store, service, sender.guild_name),
        budget=LocalBudget(DiscordLimits(target_burst=1000), wall.monotonic),
        settings=OutboxSettings(backoff_base_s=0.0),
        clock=OutboxClock(wall=clock, sleep=asyncio.sleep),
    )


async def feed_in(
    store: Store, url: str, channel: int, *, mode: SubscriptionMode = "digest", at: float
) -> int:
    """A feed (its archive read before `at`) that `channel` subscribes to at `at`."""
    feed_id = await add_polled_feed(store, url, now=at - 100)
    await store.subscriptions.add(GUILD, channel, feed_id, mode=mode, added_by=ADMIN, now=at)
    return feed_id


async def digests_of(store: Store, channel: int = CH) -> list[DeliveryRow]:
    return [d for d in await store.deliveries.for_target("channel", channel) if d.kind == "digest"]


async def item_sids(store: Store, delivery: DeliveryRow) -> list[str]:
    ids = delivery.payload_data()["item_ids"]
    assert isinstance(ids, list)
    return [row.stable_id for row in await store.items.many(ids)]


# --- one digest per slot, at the local time, across daylight-saving changes ---------------


@pytest.mark.parametrize(
    ("created", "days", "expected_slots"),
    [
        # Europe/Berlin springs forward on 2024-03-31: 09:00 local is 08:00Z, then 07:00Z.
        (
            "2024-03-29T12:00:00",
            4,
            [
                "2024-03-30T08:00:00Z",
                "2024-03-31T07:00:00Z",
                "2024-04-01T07:00:00Z",
                "2024-04-02T07:00:00Z",
            ],
        ),
        # ... and falls back on 2024-10-27: 07:00Z, then 08:00Z.
        (
            "2024-10-25T12:00:00",
            4,
            [
                "2024-10-26T07:00:00Z",
                "2024-10-27T08:00:00Z",
                "2024-10-28T08:00:00Z",
                "2024-10-29T08:00:00Z",
            ],
        ),
    ],
)
async def test_daily_berlin_digest_is_sent_once_per_day_at_nine_local_across_dst(
    store: Store, created: str, days: int, expected_slots: list[str]
) -> None:
    start = ts(created)
    clock = Clock(start)
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://a.example/feed", CH, at=start - 3600)
    await service.schedule(
        guild_id=GUILD,
        channel_id=CH,
        cadence="daily",
        local_time="09:00",
        timezone="Europe/Berlin",
        channel_name="reading",
    )
    poster = RecordingPoster()
    worker = outbox(store, poster, clock, service)
    # One new item every day at 12:05Z; the tick runs every 10 minutes for `days` days.
    day = 0
    for step in range(days * 24 * 6 + 1):
        clock.now = start + step * 600
        if step % (24 * 6) == 1:
            await poll_items(store, feed, [f"a-{day}"], now=clock.now)
            day += 1
        await service.run_due()
        await worker.drain()

    digests = await digests_of(store)
    assert [d.payload_data()["slot"] for d in digests] == expected_slots
    berlin = ZoneInfo("Europe/Berlin")
    for delivery in digests:
        slot = datetime.strptime(str(delivery.payload_data()["slot"]), "%Y-%m-%dT%H:%M:%SZ")
        local = slot.replace(tzinfo=UTC).astimezone(berlin)
        assert (local.hour, local.minute) == (9, 0)
    # Each digest holds exactly the item that arrived the day before it.
    assert [await item_sids(store, d) for d in digests] == [[f"a-{n}"] for n in range(days)]
    assert all(d.state == "sent" for d in digests)
    # One message each: the delivery's own nonce.
    assert [p.nonce for p in poster.posts] == [f"d{d.id}" for d in digests]
    assert poster.linked_ids() == [f"a-{n}" for n in range(days)]


async def test_weekly_new_york_digest_keeps_monday_nine_local_across_dst(store: Store) -> None:
    start = ts("2024-03-01T00:00:00")  # a Friday; New York springs forward on 2024-03-10
    clock = Clock(start)
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://a.example/feed", CH, at=start - 3600)
    scheduled = await service.schedule(
        guild_id=GUILD,
        channel_id=CH,
        cadence="weekly",
        local_time="9:00",
        timezone="america/new_york",
        weekday="mon",
    )
    assert scheduled.describe() == "every Monday at 09:00 (America/New_York)"
    day = 0
    for hour in range(18 * 24 + 1):
        clock.now = start + hour * 3600
        if hour % 24 == 15:  # 15:00Z every day
            await poll_items(store, feed, [f"a-{day}"], now=clock.now)
            day += 1
        await service.run_due()

    digests = await digests_of(store)
    assert [d.payload_data()["slot"] for d in digests] == [
        "2024-03-04T14:00:00Z",  # EST (UTC-5)
        "2024-03-11T13:00:00Z",  # EDT (UTC-4)
        "2024-03-18T13:00:00Z",
    ]
    items = [await item_sids(store, d) for d in digests]
    assert [len(i) for i in items] == [3, 7, 7]  # Fri–Sun, then a whole week each
    assert sorted([s for i in items for s in i], key=lambda s: int(s[2:])) == [
        f"a-{n}" for n in range(17)
    ]


# --- downtime, restarts, concurrent ticks ---------------------------------------------------


async def test_a_restart_after_missed_slots_sends_exactly_one_digest(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    clock = Clock(ts("2024-05-01T08:00:00"))
    store = await Store.open(path)
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://a.example/feed", CH, at=clock.now - 60)
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    clock.now = ts("2024-05-01T09:30:00")
    (empty,) = await service.run_due()
    assert not empty.queued and empty.item_count == 0  # an empty period sends nothing
    for day, when in enumerate(
        ["2024-05-01T10:00:00", "2024-05-02T10:00:00", "2024-05-03T10:00:00"]
    ):
        await poll_items(store, feed, [f"a-{day}"], now=ts(when))
    await store.close()  # the bot is down from here until 2024-05-04 12:00

    clock.now = ts("2024-05-04T12:00:00")
    for restart in range(3):
        store = await Store.open(path)
        fresh = DigestService(store, clock=clock)
        other = DigestService(store, clock=clock)
        handled = await asyncio.gather(fresh.run_due(), other.run_due())
        queued = [d for batch in handled for d in batch if d.queued]
        assert len(queued) == (1 if restart == 0 else 0)
        digests = await digests_of(store)
        assert len(digests) == 1
        (digest,) = digests
        assert digest.payload_data()["slot"] == "2024-05-04T09:00:00Z"
        assert digest.dedupe_key == f"digest:{CH}:2024-05-04T09:00:00Z"
        assert sorted(await item_sids(store, digest)) == ["a-0", "a-1", "a-2"]
        await store.close()

    store = await Store.open(path)
    try:
        poster = RecordingPoster()
        await outbox(store, poster, clock, DigestService(store, clock=clock)).drain()
        assert len(poster.posts) == 1
        assert sorted(poster.linked_ids()) == ["a-0", "a-1", "a-2"]
        # The next day's digest starts where the one sent after the downtime ended.
        await poll_items(store, feed, ["a-3"], now=ts("2024-05-04T13:00:00"))
        clock.now = ts("2024-05-05T09:00:00")
        (next_day,) = await DigestService(store, clock=clock).run_due()
        assert next_day.queued and next_day.item_count == 1
        assert next_day.period_start == datetime(2024, 5, 4, 9, tzinfo=UTC)
    finally:
        await store.close()


# --- digest mode vs instant mode -----------------------------------------------------------


async def test_digest_mode_posts_nothing_at_once_and_instant_items_stay_out_of_the_digest(
    store: Store,
) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    digest_feed = await feed_in(store, "https://d.example/feed", CH, at=clock.now)
    instant_feed = await feed_in(store, "https://i.example/feed", CH, mode="instant", at=clock.now)
    # The same digest feed, instant in another channel.
    await store.subscriptions.add(GUILD, OTHER_CH, digest_feed, mode="instant", now=clock.now)
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    poster = RecordingPoster()
    worker = outbox(store, poster, clock, service)

    clock.now = ts("2024-05-01T08:30:00")
    await poll_items(store, digest_feed, ["d-2", "d-1"], now=clock.now)
    await poll_items(store, instant_feed, ["i-2", "i-1"], now=clock.now)
    await worker.drain()
    assert sorted(t for ch, t in poster.items if ch == CH) == ["Post i-1", "Post i-2"]
    assert sorted(t for ch, t in poster.items if ch == OTHER_CH) == ["Post d-1", "Post d-2"]
    assert poster.posts == []
    async with store.db.transaction() as tx:  # sent posts pruned: the mode alone decides
        await tx.execute("DELETE FROM deliveries WHERE kind = 'item' AND state = 'sent'")

    clock.now = ts("2024-05-01T09:00:00")
    (due,) = await service.run_due()
    assert due.queued and due.item_count == 2
    await worker.drain()
    assert len(poster.posts) == 1
    assert poster.linked_ids() == ["d-2", "d-1"]  # newest first, instant items absent
    assert len(poster.items) == 4  # the digest posted no single items


async def test_switching_modes(store: Store) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://d.example/feed", CH, mode="instant", at=clock.now)
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    clock.now += 60
    await poll_items(store, feed, ["d-1"], now=clock.now)  # posted at once (instant)
    change = await service.set_mode(GUILD, CH, feed, "digest")
    assert change.subscription.mode == "digest" and change.posted == 0
    clock.now += 60
    await poll_items(store, feed, ["d-2"], now=clock.now)
    preview = await service.preview(CH)
    assert preview.item_count == 1  # d-1 was posted already; only d-2 waits
    text = "\n".join(to_text(message) for message in preview.messages)
    assert "Post d-2" in text and "Post d-1" not in text

    # Back to instant: what waited for the digest is posted now, not lost.
    change = await service.set_mode(GUILD, CH, feed, "instant")
    assert change.posted == 1
    assert (await service.preview(CH)).item_count == 0
    clock.now = ts("2024-05-01T09:00:00")
    (due,) = await service.run_due()
    assert not due.queued
    poster = RecordingPoster()
    await outbox(store, poster, clock, service).drain()
    assert [t for _, t in poster.items] == ["Post d-1", "Post d-2"]

    with pytest.raises(NotSubscribedError):
        await service.set_mode(GUILD, OTHER_CH, feed, "digest")
    with pytest.raises(NotSubscribedError):
        await service.set_mode(GUILD + 1, CH, feed, "digest")


# --- what was collected before the schedule (or while it was off) is not lost --------------


async def test_items_collected_before_the_schedule_are_in_its_first_digest_once(
    store: Store,
) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock, max_items=2)
    feed = await add_polled_feed(store, "https://d.example/feed", now=clock.now - 100)
    await poll_items(store, feed, ["old-1"], now=clock.now - 50)  # the archive: not news
    await store.subscriptions.add(GUILD, CH, feed, mode="digest", added_by=ADMIN, now=clock.now)
    # Collected for days with no schedule: no post, no digest, and none of it may vanish.
    for day, when in enumerate(["2024-05-01T10:00:00", "2024-05-02T10:00:00"], start=1):
        await poll_items(store, feed, [f"d-{day}"], now=ts(when))
    clock.now = ts("2024-05-03T08:00:00")
    await poll_items(store, feed, ["d-3"], now=clock.now)
    assert (await service.preview(CH)).item_count == 3  # the preview shows what waits

    clock.now = ts("2024-05-03T12:00:00")
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    poster = RecordingPoster()
    worker = outbox(store, poster, clock, service)
    clock.now = ts("2024-05-04T09:00:00")
    (first,) = await service.run_due()
    assert first.queued and first.item_count == 3
    await worker.drain()
    assert poster.linked_ids() == ["d-3", "d-2"]  # the usual cap (2 here) ...
    (more,) = [
        int(m) for p in poster.posts for e in p.embeds for m in _MORE.findall(e.description or "")
    ]
    assert more == 1  # ... and its "1 more" line
    assert "3 new items" in (poster.posts[0].content or "")
    assert poster.items == []  # nothing was posted one by one

    # The next digest holds only what came after the first one: nothing twice.
    await poll_items(store, feed, ["d-4"], now=ts("2024-05-04T10:00:00"))
    clock.now = ts("2024-05-05T09:00:00")
    (second,) = await service.run_due()
    assert second.item_count == 1
    await worker.drain()
    assert poster.linked_ids() == ["d-3", "d-2", "d-4"]
    digests = await digests_of(store)
    assert [await item_sids(store, d) for d in digests] == [["d-3", "d-2", "d-1"], ["d-4"]]


async def test_a_feed_switched_from_instant_collects_only_from_the_switch(store: Store) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://d.example/feed", CH, mode="instant", at=clock.now)
    clock.now += 60
    await poll_items(store, feed, ["i-1"], now=clock.now)
    poster = RecordingPoster()
    worker = outbox(store, poster, clock, service)
    await worker.drain()
    assert [t for _, t in poster.items] == ["Post i-1"]
    async with store.db.transaction() as tx:  # sent posts pruned: the switch alone decides
        await tx.execute("DELETE FROM deliveries WHERE kind = 'item' AND state = 'sent'")
    clock.now = ts("2024-05-01T09:00:00")
    await service.set_mode(GUILD, CH, feed, "digest")
    await poll_items(store, feed, ["d-2"], now=clock.now + 60)

    clock.now = ts("2024-05-02T12:00:00")
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    clock.now = ts("2024-05-03T09:00:00")
    (first,) = await service.run_due()
    assert first.queued
    assert first.period_start == datetime(2024, 5, 1, 9, tzinfo=UTC)  # since the switch
    await worker.drain()
    assert poster.linked_ids() == ["d-2"]  # the instant post is not repeated


async def test_a_digest_turned_off_and_on_again_loses_and_repeats_nothing(store: Store) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://d.example/feed", CH, at=clock.now)
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    poster = RecordingPoster()
    worker = outbox(store, poster, clock, service)
    await poll_items(store, feed, ["d-1"], now=ts("2024-05-01T08:30:00"))
    clock.now = ts("2024-05-01T09:00:00")
    await service.run_due()
    await worker.drain()
    assert poster.linked_ids() == ["d-1"]

    # d-2's digest is queued, then the digest is turned off before it was sent ...
    await poll_items(store, feed, ["d-2"], now=ts("2024-05-01T10:00:00"))
    clock.now = ts("2024-05-02T09:00:00")
    (queued,) = await service.run_due()
    assert queued.queued
    assert await service.off(CH)
    assert await store.digests.get(CH) is None and await store.digests.all() == []
    # ... d-3 arrives while it is off (the feed keeps collecting), and no digest is sent.
    await poll_items(store, feed, ["d-3"], now=ts("2024-05-02T10:00:00"))
    clock.now = ts("2024-05-03T09:00:00")
    assert await service.run_due() == []

    clock.now = ts("2024-05-03T12:00:00")
    again = await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    assert again.created  # for the admin it is a new schedule
    clock.now = ts("2024-05-04T09:00:00")
    (next_one,) = await service.run_due()
    assert next_one.queued
    await worker.drain()
    # d-2 (its digest was cancelled) and d-3 (collected while off); d-1 not again.
    assert poster.linked_ids() == ["d-1", "d-3", "d-2"]
    assert [d.state for d in await digests_of(store)] == ["sent", "cancelled", "sent"]


async def test_back_to_instant_without_a_schedule_posts_what_was_collected(store: Store) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://d.example/feed", CH, at=clock.now)
    await poll_items(store, feed, ["d-2", "d-1"], now=clock.now + 60)
    clock.now += 3600
    change = await service.set_mode(GUILD, CH, feed, "instant")
    assert change.posted == 2
    poster = RecordingPoster()
    await outbox(store, poster, clock, service).drain()
    assert [t for _, t in poster.items] == ["Post d-1", "Post d-2"]


async def test_schedule_validation_off_and_rescheduling(store: Store) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://d.example/feed", CH, at=clock.now)
    for cadence, local_time, zone, weekday, fragment in [
        ("hourly", "09:00", "UTC", None, "cadence"),
        ("daily", "25:00", "UTC", None, "HH:MM"),
        ("daily", "09:00", "Mars/Olympus", None, "time zone"),
        ("weekly", "09:00", "UTC", None, "weekday"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            await service.schedule(
                guild_id=GUILD,
                channel_id=CH,
                cadence=cadence,
                local_time=local_time,
                timezone=zone,
                weekday=weekday,
            )
    assert await store.digests.get(CH) is None

    first = await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    assert first.created and first.next_slot == datetime(2024, 5, 1, 9, tzinfo=UTC)
    await poll_items(store, feed, ["d-1"], now=clock.now + 60)
    # Changed at 09:30 to 09:15: today's 09:15 is already past and is not sent for the change.
    clock.now = ts("2024-05-01T09:30:00")
    moved = await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:15", timezone="UTC"
    )
    assert not moved.created and moved.next_slot == datetime(2024, 5, 2, 9, 15, tzinfo=UTC)
    assert await service.run_due() == []
    assert [row.channel_id for row in await store.digests.all()] == [CH]

    # Off: no digest, and one queued but never attempted is cancelled.
    clock.now = ts("2024-05-02T09:15:00")
    (due,) = await service.run_due()
    assert due.queued
    assert await service.off(CH)
    assert not await service.off(CH)
    (digest,) = await digests_of(store)
    assert digest.state == "cancelled"
    clock.now = ts("2024-05-03T09:15:00")
    assert await service.run_due() == []


async def test_a_paused_channel_keeps_its_digest_until_it_resumes(store: Store) -> None:
    clock = Clock(ts("2024-05-01T08:00:00"))
    service = DigestService(store, clock=clock)
    feed = await feed_in(store, "https://d.example/feed", CH, at=clock.now)
    await service.schedule(
        guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
    )
    await poll_items(store, feed, ["d-1"], now=clock.now + 60)
    await store.deliveries.pause_target("channel", CH, "Missing Access", clock.now + 60)
    clock.now = ts("2024-05-01T09:00:00")
    await service.run_due()
    (digest,) = await digests_of(store)
    assert digest.state == "paused"
    await store.subscriptions.add(GUILD, CH, feed, mode="digest", now=clock.now + 1)
    (digest,) = await digests_of(store)
    assert digest.state == "pending"


# --- sending: in order, every message once, nothing dropped -------------------------------


async def big_digest(store: Store, clock: Clock, channel: int) -> DigestService:
    """150 new items over three digest-mode feeds, and a due digest for them."""
    service = DigestService(store, clock=clock)
    start = clock.now
    for letter in "abc":
        feed = await feed_in(store, f"https://{letter}.example/feed", channel, at=start)
        await poll_items(store, feed, [f"{letter}-{n}" for n in range(50, 0, -1)], now=start + 60)
    async with store.db.transaction() as tx:  # long summaries: the digest needs several messages
        await tx.execute("UPDATE items SET summary = ? || title", ("A fairly long summary. " * 8,))
    await service.schedule(
        guild_id=GUILD,
        channel_id=channel,
        cadence="daily",
        local_time=datetime.fromtimestamp(start + 3600, tz=UTC).strftime("%H:%M"),
        timezone="UTC",
        channel_name="reading",
    )
    clock.now = start + 3 * 3600
    (due,) = await service.run_due()
    assert due.queued and due.item_count == 150
    return service


def check_nothing_dropped(contents: list[str], linked: list[str], total: int) -> None:
    assert len(linked) == len(set(linked)), "an item is listed twice"
    (more,) = [int(m) for text in contents for m in _MORE.findall(text)]
    assert len(linked) + more == total


async def test_a_crash_mid_digest_resumes_without_resending(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    clock = Clock(ts("2024-05-01T06:00:00"))
    store = await Store.open(path)
    service = await big_digest(store, clock, CH)
    (digest,) = await digests_of(store)
    second = f"d{digest.id}.1"
    poster = RecordingPoster(crash_on=lambda nonce: nonce == second)
    with pytest.raises(Crash):
        await outbox(store, poster, clock, service).drain()
    assert [p.nonce for p in poster.posts] == [f"d{digest.id}.0", second]
    await store.close()  # the process died after message 2 reached Discord, unrecorded

    store = await Store.open(path)
    try:
        poster.crash_on = lambda nonce: False
        service = DigestService(store, clock=clock)
        await outbox(store, poster, clock, service).drain()
        nonces = [p.nonce for p in poster.posts]
        assert len(nonces) >= 3, "150 items take several messages"
        assert nonces == [f"d{digest.id}.{n}" for n in range(len(nonces))]  # each once, in order
        assert poster.lookups == [second]  # only the unconfirmed one was looked for
        (digest,) = await digests_of(store)
        assert digest.state == "sent" and digest.message_id == 1
        contents = [p.content or "" for p in poster.posts] + [
            e.description or "" for p in poster.posts for e in p.embeds
        ]
        check_nothing_dropped(contents, poster.linked_ids(), 150)
    finally:
        await store.close()


class LosingThirdAnswer:
    """The real Discord sender, except that the answer to the third digest message is lost
    after the fake Discord posted it (503: discord.py does not retry it)."""

    def __init__(self, sender: DiscordSender, fake: FakeDiscord):
        self._sender = sender
        self._fake = fake
        self.lookups: list[str] = []

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int:
        if nonce.endswith(".2") and not self.lookups:
            self._fake.faults.fail(r"/messages$", 503, method="POST", after_effect=True)
        return await self._sender.send(delivery, message, nonce=nonce)

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        self.lookups.append(nonce)
        return await self._sender.find_existing(delivery, message, nonce=nonce)

    async def system_channel_for(self, guild_id: int) -> int | None:
        return await self._sender.system_channel_for(guild_id)

    async def guild_name(self, guild_id: int) -> str | None:
        return await self._sender.guild_name(guild_id)


@contextlib.asynccontextmanager
async def discord_client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(
        intents=intents, allowed_mentions=discord.AllowedMentions.none(), guild_ready_timeout=0.1
    )
    task = asyncio.create_task(client.start(fake.token))
    try:
        await fake.wait_until(lambda: bool(client.guilds), timeout=5)
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def test_150_items_through_the_fake_discord_within_limits_once_each(
    store: Store, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    # Around real time: the sender looks for unconfirmed messages back to when it was queued.
    clock = Clock(wall.time() - 4 * 3600)
    service = await big_digest(store, clock, world.news_id)
    clock.now = wall.time()
    (digest,) = await digests_of(store, world.news_id)
    async with discord_client(fake) as client:
        sender = LosingThirdAnswer(DiscordSender(client), fake)
        await outbox(store, sender, clock, service).drain()
    (digest,) = await digests_of(store, world.news_id)
    assert digest.state == "sent" and digest.attempts == 2
    assert sender.lookups == [f"d{digest.id}.2"]
    posts = fake.bot_posts(world.news_id)
    assert len(posts) >= 3
    assert [p.nonce for p in posts] == [f"d{digest.id}.{n}" for n in range(len(posts))]
    for post in posts:
        assert 1 <= len(post.embeds) <= 10
        assert len(post.content or "") <= 2000
        assert post.allowed_mentions == {"parse": []}
        assert not post.pinged.anyone
    assert "150 new items" in (posts[0].content or "")
    linked = [
        m for p in posts for e in p.embeds for m in _LINKED_ID.findall(e.get("description", ""))
    ]
    contents = [e.get("description", "") for p in posts for e in p.embeds]
    check_nothing_dropped(contents, linked, 150)


# --- console mode ---------------------------------------------------------------------------


async def test_console_schedule_preview_digest_and_off(tmp_path: Path) -> None:
    clock = Clock(ts("2024-05-01T06:00:00"))
    runtime = Runtime(
        harness.bot_settings(tmp_path), await Store.open(tmp_path / "bot.db"), clock=clock
    )
    try:
        printed: list[str] = []
        ctx = ConsoleContext(runtime, printed.append)
        store = runtime.store
        feed = await add_polled_feed(store, "https://d.example/feed", now=clock.now - 100)
        await store.subscriptions.add(
            CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, feed, mode="digest", now=clock.now
        )
        answer = await digest_schedule(ctx, ["daily", "09:00", "Europe/Berlin"])
        assert answer == (
            "✅ #console gets a digest daily at 09:00 (Europe/Berlin). "
            "Next one: May 1, 2024, 7:00:00\u202fAM UTC."  # Babel's English medium format
        )
        assert "Nothing for #console's digest yet" in await digest_preview(ctx, [])
        clock.now += 60
        await poll_items(store, feed, ["d-2", "d-1"], now=clock.now)
        preview = await digest_preview(ctx, [])
        assert "Digest for #console" in preview and "Post d-2" in preview

        clock.now = ts("2024-05-01T07:00:00")
        await runtime.digests.run_due()
        worker = outbox(store, ConsoleSender(printed.append), clock, runtime.digests)
        await worker.drain()
        (text,) = printed
        assert "2 new items" in text and text.index("Post d-2") < text.index("Post d-1")
        assert await digest_off(ctx, []) == (
            "Digest for #console turned off. Its digest-mode feeds keep being collected; "
            "schedule it again with `/digest schedule`."
        )
        assert await digest_off(ctx, []) == "#console has no digest; nothing changed."
    finally:
        await runtime.close()
