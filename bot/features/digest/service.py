"""Scheduled digests: what `/digest schedule|off|preview` does, the job that queues due digests,
and the outbox handler that sends them.

A channel's digest lists the items its digest-mode feeds first saw in the period, grouped by
feed, newest first. The period of a digest for slot S is (last digest's slot, S], or, for the
first one, all its feeds collected since they entered digest mode: items that arrived before
the schedule was set (or while it was off) are not lost. A tick (every `DIGEST_TICK_S`, and
once at start) asks `due_slot` for each schedule: after downtime only the latest missed slot is
due, and its period reaches back to the last digest, so nothing is lost and nothing is sent
twice. Marking the slot and queueing the delivery is one transaction; the delivery's dedupe
key is `digest_key(channel, slot)`. An empty period sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.features.digest.compose import DEFAULT_MAX_ITEMS, compose_digest
from bot.features.digest.schedule import (
    WEEKDAY_NAMES,
    DigestSchedule,
    due_slot,
    next_slot_after,
    parse_local_time,
    validate_schedule,
    zone_for_abbreviation,
)
from bot.features.digest.stories import merge_stories
from bot.features.posts.views import item_view
from bot.i18n import _, current_locale, use_locale
from bot.model import (
    DeliveryRow,
    DigestScheduleRow,
    Message,
    SubscriptionMode,
    SubscriptionRow,
)
from bot.store import Store
from bot.store.routing import FilterGate, digest_key

log = logging.getLogger(__name__)

DIGEST_TICK_S = 30.0
# Switching a feed back to instant posts the items still waiting for the digest, up to this many.
MODE_SWITCH_BACKFILL = 25


class NotSubscribedError(LookupError):
    """The channel does not follow that feed (in that guild)."""


@dataclass(frozen=True, slots=True)
class ScheduledDigest:
    row: DigestScheduleRow
    schedule: DigestSchedule
    next_slot: datetime  # UTC
    created: bool = False  # False: an existing schedule was replaced
    digest_feeds: int = 0  # the channel's feeds collected for it (0: the digest would be empty)
    # The abbreviation typed (e.g. "est") when the schedule uses the zone it stands for.
    typed_zone: str | None = None

    def describe(self) -> str:
        """ "daily at 09:00 (Europe/Berlin)" / "every Monday at 09:00 (UTC)", in the current
        language."""
        when = self.schedule.local_time.strftime("%H:%M")
        zone = self.schedule.timezone
        if self.schedule.cadence == "weekly" and self.schedule.weekday is not None:
            day = _(WEEKDAY_NAMES[self.schedule.weekday])
            return _("every {weekday} at {time} ({zone})", weekday=day, time=when, zone=zone)
        return _("daily at {time} ({zone})", time=when, zone=zone)


@dataclass(frozen=True, slots=True)
class DigestPreview:
    """What the channel's digest would hold if it were sent now."""

    messages: list[Message]
    item_count: int
    period_start: datetime


@dataclass(frozen=True, slots=True)
class DueDigest:
    """One slot the tick handled."""

    channel_id: int
    slot: datetime
    period_start: datetime
    item_count: int
    queued: bool  # False: an empty period (nothing to send) or already queued


@dataclass(frozen=True, slots=True)
class ModeChange:
    subscription: SubscriptionRow
    posted: int  # items that were waiting for the digest, now queued as posts


def schedule_of(row: DigestScheduleRow) -> DigestSchedule:
    return DigestSchedule(row.cadence, parse_local_time(row.local_time), row.timezone, row.weekday)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def period_name(slot: datetime) -> str:
    """The period part of a digest's outbox key: its slot in UTC."""
    return f"{slot.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _int_list(value: object) -> list[int]:
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def _float(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


async def period_start(store: Store, channel_id: int, end: float) -> float:
    """Where the channel's next digest period starts (never after `end`)."""
    start = await store.digests.collection_start(channel_id)
    return end if start is None else min(start, end)


async def waiting_for_digest(
    store: Store,
    subscription: SubscriptionRow,
    new_mode: SubscriptionMode | None,
    now: float,
    gate: FilterGate | None = None,
) -> list[int]:
    """Before `subscription` goes from digest to instant mode: its items still waiting for the
    channel's next digest (those its filter lets through), newest first ([] for any other)."""
    if subscription.mode != "digest" or new_mode != "instant":
        return []
    start = await period_start(store, subscription.channel_id, now)
    ids = await store.digests.period_item_ids(subscription.channel_id, start, now, gate)
    rows = await store.items.many(ids)
    return [r.id for r in rows if r.feed_id == subscription.feed_id]


async def post_waiting(
    store: Store, subscription: SubscriptionRow, waiting: Sequence[int], now: float
) -> int:
    """After the switch to instant: post what waited (the newest MODE_SWITCH_BACKFILL), so
    none of it is lost. Returns how many were queued."""
    if not waiting:
        return 0
    return await store.deliveries.queue_backfill(
        subscription.id, list(waiting[:MODE_SWITCH_BACKFILL]), now
    )


class DigestService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        wake_outbox: Callable[[], None] = lambda: None,
        max_items: int = DEFAULT_MAX_ITEMS,
        filter_gate: FilterGate | None = None,
    ) -> None:
        """`filter_gate` applies the channels' feed filters (the runtime gives check_filters);
        without it, filtered feeds' items are held back from digests."""
        self._store = store
        self._gate = filter_gate
        self._clock = clock
        self._wake_outbox = wake_outbox
        self._max_items = max_items
        self._tick_lock = asyncio.Lock()

    def _now(self) -> datetime:
        return _utc(self._clock())

    # --- commands ------------------------------------------------------------------------

    async def schedule(
        self,
        *,
        guild_id: int,
        channel_id: int,
        cadence: str,
        local_time: str,
        timezone: str,
        weekday: int | str | None = None,
        channel_name: str = "",
        created_by: int | None = None,
    ) -> ScheduledDigest:
        """Set (or replace) the channel's digest schedule. ValueError says what is wrong with
        the input. A replaced schedule continues from its last digest; a slot earlier than
        now is never sent because of the change."""
        zone = zone_for_abbreviation(timezone)
        schedule = validate_schedule(cadence, local_time, zone or timezone, weekday)
        row, created = await self._store.digests.upsert(
            guild_id=guild_id,
            channel_id=channel_id,
            channel_name=channel_name,
            cadence=schedule.cadence,
            local_time=schedule.local_time.strftime("%H:%M"),
            timezone=schedule.timezone,
            weekday=schedule.weekday,
            created_by=created_by,
            now=self._clock(),
        )
        views = await self._store.subscriptions.list_for_guild(guild_id, channel_id)
        collected = sum(1 for v in views if v.subscription.mode == "digest")
        next_slot = next_slot_after(schedule, self._now())
        typed_zone = timezone.strip() if zone else None
        return ScheduledDigest(row, schedule, next_slot, created, collected, typed_zone)

    async def off(self, channel_id: int) -> bool:
        """Stop the channel's digest; False if it had none. Its digest-mode feeds keep
        collecting: a later schedule's first digest carries what waited."""
        return await self._store.digests.remove(channel_id, self._clock())

    async def preview(
        self, channel_id: int, *, channel_name: str | None = None, locale: str | None = None
    ) -> DigestPreview:
        """The digest the channel would get now: its period so far (since the last digest,
        or since its feeds began collecting), with or without a schedule; written in `locale`
        (the channel's language; None: the current one), as it will be sent."""
        now = self._clock()
        row = await self._store.digests.get(channel_id)
        name = channel_name or (row.channel_name if row is not None else "")
        start = await period_start(self._store, channel_id, now)
        ids = await self._store.digests.period_item_ids(channel_id, start, now, self._gate)
        with use_locale(locale or current_locale()):
            messages = await self._compose(channel_id, ids, name, start, now)
        return DigestPreview(messages, len(ids), _utc(start))

    async def set_mode(
        self, guild_id: int, channel_id: int, feed_id: int, mode: SubscriptionMode
    ) -> ModeChange:
        """Switch a channel's feed between instant posts and the digest. Back to instant, the
        items still waiting for the channel's next digest are posted (up to
        MODE_SWITCH_BACKFILL, newest), so none is lost. Raises NotSubscribedError."""
        subscription = await self._store.subscriptions.find(channel_id, feed_id)
        if subscription is None or subscription.guild_id != guild_id:
            raise NotSubscribedError("That channel does not follow that feed.")
        now = self._clock()
        waiting = await waiting_for_digest(self._store, subscription, mode, now, self._gate)
        await self._store.subscriptions.set_mode(subscription.id, mode, now)
        posted = await post_waiting(self._store, subscription, waiting, now)
        if posted:
            self._wake_outbox()
        updated = await self._store.subscriptions.get(subscription.id)
        assert updated is not None
        return ModeChange(updated, posted)

    # --- the tick ------------------------------------------------------------------------

    async def run_due(self) -> list[DueDigest]:
        """Queue every digest whose slot has come (at most one per schedule)."""
        async with self._tick_lock:
            now = self._now()
            handled: list[DueDigest] = []
            for row in await self._store.digests.all():
                try:
                    due = await self._run_one(row, now)
                except ValueError:
                    log.exception("digest schedule of channel %d is unusable", row.channel_id)
                    continue
                if due is not None:
                    handled.append(due)
                    log.info(
                        "digest for channel %d, slot %s: %d item(s)%s",
                        due.channel_id,
                        period_name(due.slot),
                        due.item_count,
                        " queued" if due.queued else "",
                    )
        if any(d.queued for d in handled):
            self._wake_outbox()
        return handled

    async def _run_one(self, row: DigestScheduleRow, now: datetime) -> DueDigest | None:
        schedule = schedule_of(row)
        last_sent = None if row.last_sent_slot is None else _utc(row.last_sent_slot)
        slot = due_slot(schedule, now, last_sent, not_before=_utc(row.updated_at))
        if slot is None:
            return None
        end = slot.timestamp()
        start = await period_start(self._store, row.channel_id, end)
        period = period_name(slot)
        committed = await self._store.digests.commit_slot(
            channel_id=row.channel_id,
            slot=end,
            start=start,
            end=end,
            dedupe_key=digest_key(row.channel_id, period),
            payload={
                "channel_name": row.channel_name,
                "period_start": start,
                "period_end": end,
                "slot": period,
                "sent": [],
            },
            now=self._clock(),
            gate=self._gate,
        )
        if committed is None:
            return None
        return DueDigest(
            row.channel_id, slot, _utc(start), len(committed.item_ids), committed.queued
        )

    # --- what a 'digest' delivery sends ---------------------------------------------------

    async def _compose(
        self, channel_id: int, item_ids: Sequence[int], channel_name: str, start: float, end: float
    ) -> list[Message]:
        rows = await self._store.items.many(item_ids)
        # Same-story entries merged in a thread: text work stays off the event loop. Items of
        # feeds the channel turned merging off for (`/feed merge`) keep their own entries.
        unmerged = await self._store.subscriptions.unmerged_feed_ids(channel_id)
        listed, also_in = await asyncio.to_thread(
            merge_stories, [item_view(r) for r in rows], unmerged
        )
        return compose_digest(
            listed,
            channel_name=channel_name,
            period_start=_utc(start),
            period_end=_utc(end),
            max_items=self._max_items,
            also_in=also_in,
        )

    async def delivery_messages(self, delivery: DeliveryRow) -> list[Message]:
        """The messages of a queued digest, composed from its payload ([]: its items no
        longer exist)."""
        data = delivery.payload_data()
        end = _float(data.get("period_end"), delivery.created_at)
        start = _float(data.get("period_start"), end)
        item_ids = _int_list(data.get("item_ids"))
        channel_name = str(data.get("channel_name") or "")
        return await self._compose(delivery.target_id, item_ids, channel_name, start, end)
