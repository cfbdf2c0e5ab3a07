"""The deliveries table (the outbox): what must reach which channel or DM, and how it went.

States: pending → sending → sent; sending → pending again (retry, or after a crash with
`maybe_sent` set); failed (never retried); paused (the target cannot be reached: resumes when
the subscription is added again); cancelled (unsubscribed, or too old when resumed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import STATES, DeliveryRow, DeliveryState, SubscriptionRow, TargetKind
from bot.store.db import Database
from bot.store.routing import NewDelivery, queue_backfill_tx, queue_delivery, queue_feed_notice_tx
from bot.store.subscriptions import pause_subscriptions_of_channel

_DELIVERY_COLUMNS = (
    "d.id, d.dedupe_key, d.kind, d.item_id, d.subscription_id, d.guild_id, d.target_kind, "
    "d.target_id, d.payload, d.state, d.attempts, d.next_attempt_at, d.maybe_sent, "
    "d.message_id, d.last_error, d.created_at, d.sent_at, s.mention_role_id, s.added_by, "
    "s.feed_id"
)
_FROM = "FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id"


def _delivery(row: Sequence[object]) -> DeliveryRow:
    values = list(row)
    values[12] = bool(values[12])
    return DeliveryRow(*values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Notice:
    """A text message to queue together with a pause (one transaction, exactly once)."""

    target_kind: TargetKind
    target_id: int
    text: str
    dedupe_key: str
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class PauseResult:
    subscriptions: list[SubscriptionRow]  # the subscriptions this pause stopped
    deliveries: int  # deliveries now waiting in 'paused'


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- queueing ------------------------------------------------------------------------

    async def queue(self, delivery: NewDelivery, now: float) -> bool:
        """Queue one delivery in its own transaction; False if its key was queued before."""
        async with self._db.transaction() as tx:
            return await queue_delivery(tx, delivery, now)

    async def queue_backfill(
        self, subscription_id: int, item_ids: Sequence[int], now: float
    ) -> int:
        """Post existing items (e.g. the feed's N newest) to a just-added subscription's
        channel, oldest first. Returns how many were queued."""
        async with self._db.transaction() as tx:
            return await queue_backfill_tx(tx, subscription_id, item_ids, now)

    async def queue_notice(
        self,
        target_kind: TargetKind,
        target_id: int,
        text: str,
        dedupe_key: str,
        now: float,
        *,
        guild_id: int | None = None,
    ) -> bool:
        """A text notice to a channel or a user's DMs, once per `dedupe_key`."""
        notice = NewDelivery(
            dedupe_key, "notice", target_kind, target_id, guild_id=guild_id, payload={"text": text}
        )
        return await self.queue(notice, now)

    async def queue_feed_notice(self, feed_id: int, text: str, key: str, now: float) -> int:
        """A text notice to every active channel subscribed to a feed, once per (`key`,
        channel): use e.g. f"feed-failing:{feed_id}:{failing_since}" as `key`."""
        async with self._db.transaction() as tx:
            return await queue_feed_notice_tx(tx, feed_id, text, key, now)

    # --- the worker ----------------------------------------------------------------------

    async def due(self, now: float, limit: int) -> list[DeliveryRow]:
        """Pending deliveries whose time has come, at most one per target: the target's
        oldest unfinished one (so a channel gets a feed's items oldest first, and a later
        item never overtakes one waiting to be retried)."""
        async with self._db.reader.execute(
            f"SELECT {_DELIVERY_COLUMNS} {_FROM} WHERE d.state = 'pending' "
            "AND d.next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM deliveries e "
            "WHERE e.target_kind = d.target_kind AND e.target_id = d.target_id "
            "AND e.state IN ('pending', 'sending') AND e.id < d.id) "
            "ORDER BY d.next_attempt_at, d.id LIMIT ?",
            (now, limit),
        ) as cursor:
            return [_delivery(r) for r in await cursor.fetchall()]

    async def next_due_at(self) -> float | None:
        """When the earliest pending delivery that heads its target's queue becomes due
        (None: nothing pending)."""
        async with self._db.reader.execute(
            "SELECT min(d.next_attempt_at) FROM deliveries d WHERE d.state = 'pending' "
            "AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.target_kind = d.target_kind "
            "AND e.target_id = d.target_id AND e.state IN ('pending', 'sending') "
            "AND e.id < d.id)"
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def get(self, delivery_id: int) -> DeliveryRow | None:
        async with self._db.reader.execute(
            f"SELECT {_DELIVERY_COLUMNS} {_FROM} WHERE d.id = ?", (delivery_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _delivery(row)

    async def by_key(self, dedupe_key: str) -> DeliveryRow | None:
        async with self._db.reader.execute(
            f"SELECT {_DELIVERY_COLUMNS} {_FROM} WHERE d.dedupe_key = ?", (dedupe_key,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _delivery(row)

    async def for_target(
        self, target_kind: TargetKind, target_id: int, state: DeliveryState | None = None
    ) -> list[DeliveryRow]:
        sql = f"SELECT {_DELIVERY_COLUMNS} {_FROM} WHERE d.target_kind = ? AND d.target_id = ?"
        params: tuple[object, ...] = (target_kind, target_id)
        if state is not None:
            sql += " AND d.state = ?"
            params += (state,)
        async with self._db.reader.execute(sql + " ORDER BY d.id", params) as cursor:
            return [_delivery(r) for r in await cursor.fetchall()]

    async def mark_sending(self, delivery_id: int, now: float) -> bool:
        """Claim a pending delivery just before sending it (attempts + 1). Committed BEFORE
        the send: after a crash, 'sending' means the message may have reached Discord.
        False if it is no longer pending (paused, cancelled, claimed elsewhere)."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE deliveries SET state = 'sending', attempts = attempts + 1 "
                "WHERE id = ? AND state = 'pending'",
                (delivery_id,),
            )
            return cursor.rowcount > 0

    async def mark_sent(self, delivery_id: int, message_id: int | None, now: float) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET state = 'sent', message_id = ?, sent_at = ?, "
                "maybe_sent = 0, last_error = NULL WHERE id = ?",
                (message_id, now, delivery_id),
            )

    async def retry_later(
        self, delivery_id: int, error: str, next_attempt_at: float, *, maybe_sent: bool = False
    ) -> None:
        """Back to pending, due at `next_attempt_at`. `maybe_sent`: the failed attempt may
        have reached Discord (timeout, 5xx), so the worker looks before sending again."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET state = 'pending', last_error = ?, next_attempt_at = ?, "
                "maybe_sent = CASE WHEN ? THEN 1 ELSE maybe_sent END "
                "WHERE id = ? AND state = 'sending'",
                (error, next_attempt_at, maybe_sent, delivery_id),
            )

    async def save_progress(self, delivery_id: int, sent: Sequence[int | None]) -> None:
        """Remember the messages of a delivery already sent, so a retry or a restart goes on
        with the next one (kept in its payload, under "sent")."""
        async with self._db.transaction() as tx:
            async with tx.execute(
                "SELECT payload FROM deliveries WHERE id = ?", (delivery_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return
            data = json.loads(row[0]) if row[0] else {}
            payload = data if isinstance(data, dict) else {}
            payload["sent"] = list(sent)
            await tx.execute(
                "UPDATE deliveries SET payload = ? WHERE id = ?", (json.dumps(payload), delivery_id)
            )

    async def fail(self, delivery_id: int, error: str) -> None:
        """Give up on one delivery (it will never be retried)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET state = 'failed', last_error = ? WHERE id = ?",
                (error, delivery_id),
            )

    async def cancel(self, delivery_id: int, reason: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET state = 'cancelled', last_error = ? "
                "WHERE id = ? AND state IN ('pending', 'sending', 'paused')",
                (reason, delivery_id),
            )

    async def pause_target(
        self,
        target_kind: TargetKind,
        target_id: int,
        reason: str,
        now: float,
        *,
        notices: Sequence[Notice] = (),
    ) -> PauseResult:
        """The target cannot be reached (403/404): in one transaction, pause its unfinished
        deliveries, pause the channel's subscriptions (nothing more is queued for them) and
        queue `notices` (to the person who added them, the guild's system channel …)."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE deliveries SET state = 'paused', last_error = ? "
                "WHERE target_kind = ? AND target_id = ? AND state IN ('pending', 'sending')",
                (reason, target_kind, target_id),
            )
            paused = max(cursor.rowcount, 0)
            subscriptions: list[SubscriptionRow] = []
            if target_kind == "channel":
                subscriptions = await pause_subscriptions_of_channel(tx, target_id, reason, now)
            for notice in notices:
                await queue_delivery(
                    tx,
                    NewDelivery(
                        notice.dedupe_key,
                        "notice",
                        notice.target_kind,
                        notice.target_id,
                        guild_id=notice.guild_id,
                        payload={"text": notice.text},
                    ),
                    now,
                )
        return PauseResult(subscriptions, paused)

    async def resume_target(self, target_kind: TargetKind, target_id: int, now: float) -> int:
        """Send a target's paused deliveries after all (e.g. a member opened their DMs).
        Channels resume through `SubscriptionStore.add`. Returns how many resumed."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = NULL "
                "WHERE target_kind = ? AND target_id = ? AND state = 'paused'",
                (now, target_kind, target_id),
            )
            return max(cursor.rowcount, 0)

    async def recover_in_flight(self) -> int:
        """At start: deliveries a crash left in 'sending' go back to pending, flagged
        `maybe_sent` so the worker looks for the message before sending again."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE deliveries SET state = 'pending', maybe_sent = 1 WHERE state = 'sending'"
            )
            return max(cursor.rowcount, 0)

    # --- metrics -------------------------------------------------------------------------

    async def counts(self) -> dict[DeliveryState, int]:
        """How many deliveries are in each state (every state present, 0 when none)."""
        result: dict[DeliveryState, int] = dict.fromkeys(STATES, 0)
        async with self._db.reader.execute(
            "SELECT state, count(*) FROM deliveries GROUP BY state"
        ) as cursor:
            for state, count in await cursor.fetchall():
                if state in result:
                    result[state] = int(count)
        return result
