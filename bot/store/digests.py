"""The digest_schedules table, the items a digest covers, and queueing a due digest.

A channel has at most one schedule. Turning it off keeps the row (`off_at` set; every read
here skips it), so its `last_sent_slot` stays the mark the next schedule continues from.
Queueing a digest is one transaction: the schedule's `last_sent_slot` moves to the slot
(compare-and-set, so two runs never both queue it) and the 'digest' delivery is queued under
its dedupe key, so a digest is queued at most once per (channel, slot) whatever crashes or
restarts happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.model import DigestScheduleRow, ScheduleCadence
from bot.store.db import ReadConnection, Table, fetch_all, fetch_one, scalar
from bot.store.items import item_texts
from bot.store.routing import FilterGate, NewDelivery, payload_of, queue_delivery
from bot.store.subscriptions import filter_of

_SELECT = (
    "SELECT channel_id, guild_id, channel_name, cadence, local_time, timezone, weekday, "
    "created_by, created_at, updated_at, last_sent_slot FROM digest_schedules"
)


@dataclass(frozen=True, slots=True)
class QueuedDigest:
    """What committing one due slot did."""

    item_ids: list[int]  # the period's items, newest first ([]: an empty period, nothing queued)
    queued: bool  # a new 'digest' delivery was queued


async def period_item_ids(
    conn: ReadConnection,
    channel_id: int,
    start: float,
    end: float,
    gate: FilterGate | None = None,
) -> list[int]:
    """Items first seen in (start, end] of the channel's digest-mode feeds that the feed's
    filter in the channel lets through (`gate` decides, as for instant posts), newest first.

    Only items that arrived after the subscription entered digest mode count (a feed's
    archive, read when it was added, is not news; an item that arrived in instant mode was
    posted then), and an item already queued for the channel as an instant post (backfilled,
    or posted when the feed went back to instant) is not repeated.
    """
    rows = await fetch_all(
        conn,
        lambda item_id, published_at, *parts: (int(item_id), filter_of(*parts)),
        "SELECT DISTINCT i.id, i.published_at, s.filter_include, s.filter_exclude, "
        "s.filter_pattern FROM items i "
        "JOIN subscriptions s ON s.feed_id = i.feed_id "
        "WHERE s.channel_id = ? AND s.mode = 'digest' "
        "AND i.first_seen_at > ? AND i.first_seen_at <= ? AND i.first_seen_at > s.digest_since "
        "AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.dedupe_key = 'item:' || i.id || ':ch:' || s.channel_id) "
        "ORDER BY i.published_at DESC, i.id DESC",
        (channel_id, start, end),
    )
    filtered = {item_id: found for item_id, found in rows if found is not None}
    if not filtered:
        return [item_id for item_id, _ in rows]
    texts = await item_texts(conn, list(filtered)) if gate is not None else {}
    held = {
        item_id
        for item_id, found in filtered.items()
        if gate is None or item_id not in texts or gate([found], texts[item_id])[0]
    }
    return [item_id for item_id, _ in rows if item_id not in held]


class DigestStore(Table):
    async def upsert(
        self,
        *,
        guild_id: int,
        channel_id: int,
        channel_name: str,
        cadence: ScheduleCadence,
        local_time: str,
        timezone: str,
        weekday: int | None,
        created_by: int | None,
        now: float,
    ) -> tuple[DigestScheduleRow, bool]:
        """Set the channel's schedule; `created` is False when one was on (it is replaced,
        keeping its creation time). Either way the last sent slot is kept, also from a
        schedule turned off, so the next digest continues from there."""
        async with self._db.transaction() as tx:
            created = await scalar(
                tx,
                "SELECT off_at IS NOT NULL FROM digest_schedules WHERE channel_id = ?",
                (channel_id,),
            )
            await tx.execute(
                "INSERT INTO digest_schedules (channel_id, guild_id, channel_name, cadence, "
                "local_time, timezone, weekday, created_by, created_at, updated_at) VALUES "
                "(:channel, :guild, :name, :cadence, :time, :zone, :weekday, :by, :now, :now) "
                "ON CONFLICT (channel_id) DO UPDATE SET guild_id = :guild, channel_name = :name, "
                "cadence = :cadence, local_time = :time, timezone = :zone, weekday = :weekday, "
                "created_by = coalesce(:by, digest_schedules.created_by), updated_at = :now, "
                "created_at = CASE WHEN digest_schedules.off_at IS NULL "
                "THEN digest_schedules.created_at ELSE :now END, "
                "off_at = NULL",
                {
                    "channel": channel_id,
                    "guild": guild_id,
                    "name": channel_name,
                    "cadence": cadence,
                    "time": local_time,
                    "zone": timezone,
                    "weekday": weekday,
                    "by": created_by,
                    "now": now,
                },
            )
            row = await fetch_one(
                tx, DigestScheduleRow, f"{_SELECT} WHERE channel_id = ?", (channel_id,)
            )
        assert row is not None
        return row, created is None or bool(created)

    async def remove(self, channel_id: int, now: float) -> bool:
        """Turn the channel's schedule off. Digests queued earlier that have not started
        sending (pending or paused, no attempt yet) are cancelled, and the mark moves back to
        where the earliest of them started, so their items wait for the next schedule.
        False: there was none."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE digest_schedules SET off_at = ? WHERE channel_id = ? AND off_at IS NULL",
                (now, channel_id),
            )
            removed = cursor.rowcount > 0
            unsent = (
                "WHERE kind = 'digest' AND target_kind = 'channel' AND target_id = ? "
                "AND state IN ('pending', 'paused') AND attempts = 0"
            )
            # The period start each one's payload records (an unreadable one counts for none).
            payloads = await fetch_all(
                tx, payload_of, f"SELECT payload FROM deliveries {unsent}", (channel_id,)
            )
            starts = [
                float(start)
                for payload in payloads
                if isinstance(start := payload.get("period_start"), int | float)
                and not isinstance(start, bool)
            ]
            await tx.execute(
                "UPDATE deliveries SET state = 'cancelled', last_error = 'digest turned off' "
                + unsent,
                (channel_id,),
            )
            if starts:
                await tx.execute(
                    "UPDATE digest_schedules SET last_sent_slot = CASE WHEN last_sent_slot IS NULL "
                    "OR last_sent_slot > :start THEN :start ELSE last_sent_slot END "
                    "WHERE channel_id = :channel",
                    {"start": min(starts), "channel": channel_id},
                )
        return removed

    async def get(self, channel_id: int) -> DigestScheduleRow | None:
        return await self._one(
            DigestScheduleRow,
            f"{_SELECT} WHERE channel_id = ? AND off_at IS NULL",
            (channel_id,),
        )

    async def all(self) -> list[DigestScheduleRow]:
        return await self._all(
            DigestScheduleRow,
            f"{_SELECT} WHERE off_at IS NULL ORDER BY channel_id",
        )

    async def collection_start(self, channel_id: int) -> float | None:
        """Where the channel's next digest period starts: the mark its last digest left (also
        under a schedule since turned off), else when its first digest-mode feed began
        collecting. None: nothing was ever collected for it."""
        start = await self._scalar(
            "SELECT coalesce((SELECT last_sent_slot FROM digest_schedules WHERE channel_id = ?), "
            "(SELECT min(digest_since) FROM subscriptions "
            "WHERE channel_id = ? AND mode = 'digest'))",
            (channel_id, channel_id),
        )
        return None if start is None else float(start)

    async def period_item_ids(
        self, channel_id: int, start: float, end: float, gate: FilterGate | None = None
    ) -> list[int]:
        """See `period_item_ids` (read-only: for previews)."""
        return await period_item_ids(self._db.reader, channel_id, start, end, gate)

    async def commit_slot(
        self,
        *,
        channel_id: int,
        slot: float,
        start: float,
        end: float,
        dedupe_key: str,
        payload: Mapping[str, object],
        now: float,
        gate: FilterGate | None = None,
    ) -> QueuedDigest | None:
        """One transaction: mark `slot` handled and queue the period's digest (when it has
        items) under `dedupe_key`, with `payload` plus "item_ids". None: the slot was handled
        already (or the schedule is gone), nothing done.

        The digest waits as 'paused' when every digest-mode subscription of the channel is
        paused (the channel is unreachable); it is sent when the channel resumes.
        """
        async with self._db.transaction() as tx:
            guild_id = await scalar(
                tx,
                "UPDATE digest_schedules SET last_sent_slot = ? WHERE channel_id = ? "
                "AND off_at IS NULL AND (last_sent_slot IS NULL OR last_sent_slot < ?) "
                "RETURNING guild_id",
                (slot, channel_id, slot),
            )
            if guild_id is None:  # handled already, or no schedule
                return None
            item_ids = await period_item_ids(tx, channel_id, start, end, gate)
            if not item_ids:
                return QueuedDigest([], False)
            # Every digest-mode subscription of the channel paused (and at least one).
            all_paused = await scalar(
                tx,
                "SELECT count(*) > 0 AND count(*) = count(paused_at) FROM subscriptions "
                "WHERE channel_id = ? AND mode = 'digest'",
                (channel_id,),
            )
            delivery = NewDelivery(
                dedupe_key,
                "digest",
                "channel",
                channel_id,
                guild_id=guild_id,
                payload={**payload, "item_ids": item_ids},
                state="paused" if all_paused else "pending",
            )
            queued = await queue_delivery(tx, delivery, now)
        return QueuedDigest(item_ids, queued)
