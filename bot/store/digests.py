"""The digest_schedules table, the items a digest covers, and queueing a due digest.

A channel has at most one schedule. Turning it off keeps the row (`off_at` set; every read
here skips it), so its `last_sent_slot` stays the mark the next schedule continues from.
Queueing a digest is one transaction: the schedule's `last_sent_slot` moves to the slot
(compare-and-set, so two runs never both queue it) and the 'digest' delivery is queued under
its dedupe key, so a digest is queued at most once per (channel, slot) whatever crashes or
restarts happen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiosqlite

from bot.model import DigestScheduleRow, ScheduleCadence
from bot.store.db import Database
from bot.store.routing import NewDelivery, queue_delivery

_COLUMNS = (
    "channel_id, guild_id, channel_name, cadence, local_time, timezone, weekday, created_by, "
    "created_at, updated_at, last_sent_slot"
)


@dataclass(frozen=True, slots=True)
class QueuedDigest:
    """What committing one due slot did."""

    item_ids: list[int]  # the period's items, newest first ([]: an empty period, nothing queued)
    queued: bool  # a new 'digest' delivery was queued


def _row(row: Sequence[object]) -> DigestScheduleRow:
    return DigestScheduleRow(*row)  # type: ignore[arg-type]


def _period_start(payload: object) -> float | None:
    """The period start a queued digest's payload records (None: unreadable)."""
    try:
        data = json.loads(str(payload))
    except ValueError:
        return None
    start = data.get("period_start") if isinstance(data, dict) else None
    return float(start) if isinstance(start, int | float) else None


async def period_item_ids(
    conn: aiosqlite.Connection, channel_id: int, start: float, end: float
) -> list[int]:
    """Items first seen in (start, end] of the channel's digest-mode feeds, newest first.

    Only items that arrived after the subscription entered digest mode count (a feed's
    archive, read when it was added, is not news; an item that arrived in instant mode was
    posted then), and an item already queued for the channel as an instant post (backfilled,
    or posted when the feed went back to instant) is not repeated.
    """
    async with conn.execute(
        "SELECT DISTINCT i.id, i.published_at FROM items i "
        "JOIN subscriptions s ON s.feed_id = i.feed_id "
        "WHERE s.channel_id = ? AND s.mode = 'digest' "
        "AND i.first_seen_at > ? AND i.first_seen_at <= ? AND i.first_seen_at > s.digest_since "
        "AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.dedupe_key = 'item:' || i.id || ':ch:' || s.channel_id) "
        "ORDER BY i.published_at DESC, i.id DESC",
        (channel_id, start, end),
    ) as cursor:
        return [int(r[0]) for r in await cursor.fetchall()]


class DigestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

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
            cursor = await tx.execute(
                "INSERT INTO digest_schedules (channel_id, guild_id, channel_name, cadence, "
                "local_time, timezone, weekday, created_by, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO NOTHING",
                (
                    channel_id,
                    guild_id,
                    channel_name,
                    cadence,
                    local_time,
                    timezone,
                    weekday,
                    created_by,
                    now,
                    now,
                ),
            )
            created = cursor.rowcount > 0
            if not created:
                async with tx.execute(
                    "SELECT off_at IS NOT NULL FROM digest_schedules WHERE channel_id = ?",
                    (channel_id,),
                ) as read:
                    was_off = await read.fetchone()
                created = was_off is not None and bool(was_off[0])
                await tx.execute(
                    "UPDATE digest_schedules SET guild_id = ?, channel_name = ?, cadence = ?, "
                    "local_time = ?, timezone = ?, weekday = ?, "
                    "created_by = coalesce(?, created_by), updated_at = ?, "
                    "created_at = CASE WHEN off_at IS NULL THEN created_at ELSE ? END, "
                    "off_at = NULL WHERE channel_id = ?",
                    (
                        guild_id,
                        channel_name,
                        cadence,
                        local_time,
                        timezone,
                        weekday,
                        created_by,
                        now,
                        now,
                        channel_id,
                    ),
                )
            async with tx.execute(
                f"SELECT {_COLUMNS} FROM digest_schedules WHERE channel_id = ?", (channel_id,)
            ) as read:
                row = await read.fetchone()
        assert row is not None
        return _row(row), created

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
            async with tx.execute(
                f"SELECT payload FROM deliveries {unsent}", (channel_id,)
            ) as read:
                starts = [_period_start(row[0]) for row in await read.fetchall()]
            await tx.execute(
                "UPDATE deliveries SET state = 'cancelled', last_error = 'digest turned off' "
                + unsent,
                (channel_id,),
            )
            known = [start for start in starts if start is not None]
            if known:
                await tx.execute(
                    "UPDATE digest_schedules SET last_sent_slot = "
                    "min(coalesce(last_sent_slot, ?), ?) WHERE channel_id = ?",
                    (min(known), min(known), channel_id),
                )
        return removed

    async def get(self, channel_id: int) -> DigestScheduleRow | None:
        async with self._db.reader.execute(
            f"SELECT {_COLUMNS} FROM digest_schedules WHERE channel_id = ? AND off_at IS NULL",
            (channel_id,),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _row(row)

    async def for_guild(self, guild_id: int) -> list[DigestScheduleRow]:
        async with self._db.reader.execute(
            f"SELECT {_COLUMNS} FROM digest_schedules WHERE guild_id = ? AND off_at IS NULL "
            "ORDER BY channel_id",
            (guild_id,),
        ) as cursor:
            return [_row(r) for r in await cursor.fetchall()]

    async def all(self) -> list[DigestScheduleRow]:
        async with self._db.reader.execute(
            f"SELECT {_COLUMNS} FROM digest_schedules WHERE off_at IS NULL ORDER BY channel_id"
        ) as cursor:
            return [_row(r) for r in await cursor.fetchall()]

    async def collection_start(self, channel_id: int) -> float | None:
        """Where the channel's next digest period starts: the mark its last digest left (also
        under a schedule since turned off), else when its first digest-mode feed began
        collecting. None: nothing was ever collected for it."""
        async with self._db.reader.execute(
            "SELECT (SELECT last_sent_slot FROM digest_schedules WHERE channel_id = ?), "
            "(SELECT min(digest_since) FROM subscriptions "
            "WHERE channel_id = ? AND mode = 'digest')",
            (channel_id, channel_id),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        mark, since = row
        if mark is not None:
            return float(mark)
        return None if since is None else float(since)

    async def period_item_ids(self, channel_id: int, start: float, end: float) -> list[int]:
        """See `period_item_ids` (read-only: for previews)."""
        return await period_item_ids(self._db.reader, channel_id, start, end)

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
    ) -> QueuedDigest | None:
        """One transaction: mark `slot` handled and queue the period's digest (when it has
        items) under `dedupe_key`, with `payload` plus "item_ids". None: the slot was handled
        already (or the schedule is gone), nothing done.

        The digest waits as 'paused' when every digest-mode subscription of the channel is
        paused (the channel is unreachable); it is sent when the channel resumes.
        """
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE digest_schedules SET last_sent_slot = ? WHERE channel_id = ? "
                "AND off_at IS NULL AND (last_sent_slot IS NULL OR last_sent_slot < ?)",
                (slot, channel_id, slot),
            )
            if cursor.rowcount <= 0:
                return None
            async with tx.execute(
                "SELECT guild_id FROM digest_schedules WHERE channel_id = ?", (channel_id,)
            ) as read:
                row = await read.fetchone()
            assert row is not None
            guild_id = int(row[0])
            item_ids = await period_item_ids(tx, channel_id, start, end)
            if not item_ids:
                return QueuedDigest([], False)
            async with tx.execute(
                "SELECT count(*), count(paused_at) FROM subscriptions "
                "WHERE channel_id = ? AND mode = 'digest'",
                (channel_id,),
            ) as read:
                counts = await read.fetchone()
            all_paused = counts is not None and int(counts[0]) > 0 and counts[0] == counts[1]
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

    async def save_progress(self, delivery_id: int, payload: Mapping[str, object]) -> None:
        """Store a digest delivery's payload with its progress (the messages already sent)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET payload = ? WHERE id = ? AND kind = 'digest'",
                (json.dumps(dict(payload)), delivery_id),
            )
