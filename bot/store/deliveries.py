"""The deliveries table (the outbox): what must reach which channel or DM, and how it went.

States: pending → sending → sent; sending → pending (retry, or after a crash with
`maybe_sent`); failed (never retried); paused (target unreachable: resumes when subscribed
again); cancelled (unsubscribed, or too old when resumed)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.model import STATES, DeliveryRow, DeliveryState, SubscriptionRow, TargetKind
from bot.store.db import Table, marks, scalar
from bot.store.postgres import is_postgres
from bot.store.routing import INSERT_DELIVERY, NewDelivery, payload_of, queue_delivery

_SELECT = (
    "SELECT d.id, d.dedupe_key, d.kind, d.item_id, d.subscription_id, d.guild_id, "
    "d.target_kind, d.target_id, d.payload, d.state, d.attempts, d.next_attempt_at, "
    "d.maybe_sent, d.message_id, d.last_error, d.created_at, d.sent_at, s.mention_role_id, "
    "s.added_by, s.feed_id, s.mention_when, s.forum_tag_id, coalesce(s.open_threads, 0), "
    "d.merged_into "
    "FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id"
)
# A pending delivery is due only when it heads its target's queue: no older unfinished one.
_HEADS_ITS_TARGET = (
    "d.state = 'pending' AND NOT EXISTS (SELECT 1 FROM deliveries e "
    "WHERE e.target_kind = d.target_kind AND e.target_id = d.target_id "
    "AND e.state IN ('pending', 'sending') AND e.id < d.id)"
)


def _delivery(*values: Any) -> DeliveryRow:
    row = DeliveryRow(*values)
    return replace(row, maybe_sent=bool(row.maybe_sent), open_thread=bool(row.open_thread))


def notice_to(
    target_kind: TargetKind,
    target_id: int,
    payload: Mapping[str, object],
    dedupe_key: str,
    guild_id: int | None = None,
) -> NewDelivery:
    """A notice to queue with a pause (`pause_target`). `payload` says it as data
    (bot.features.posts.notices), written in the reader's language when sent."""
    return NewDelivery(
        dedupe_key, "notice", target_kind, target_id, guild_id=guild_id, payload=payload
    )


class DeliveryStore(Table):
    async def queue_backfill(
        self, subscription_id: int, item_ids: Sequence[int], now: float
    ) -> int:
        """Queue existing items to a just-added subscription's channel, oldest first: not
        those already delivered there (a cancelled delivery is revived). How many were queued."""
        return await self._db.write(
            INSERT_DELIVERY
            + "SELECT 'item:' || i.id || ':ch:' || s.channel_id, 'item', i.id, s.id, "
            "s.guild_id, 'channel', s.channel_id, NULL, 'pending', ?, ? "
            "FROM items i JOIN subscriptions s ON s.feed_id = i.feed_id "
            f"WHERE s.id = ? AND i.id IN ({marks(item_ids)}) ORDER BY i.published_at, i.id "
            "ON CONFLICT (dedupe_key) DO UPDATE SET state = 'pending', "
            "subscription_id = excluded.subscription_id, "
            "next_attempt_at = excluded.next_attempt_at, last_error = NULL "
            "WHERE deliveries.state = 'cancelled'",
            (now, now, subscription_id, *item_ids),
        )

    async def queue_test_post(
        self, subscription: SubscriptionRow, item_id: int, request: str, now: float
    ) -> bool:
        """`/feed test`: an ordinary item delivery to the subscription's channel now, under a
        key of its own (`test:…:{request}`), so the item's real post is still queued and sent
        as if no test had been made. A repeated `request` is a no-op (False)."""
        key = f"test:{item_id}:ch:{subscription.channel_id}:{request}"
        delivery = NewDelivery(
            key,
            "item",
            "channel",
            subscription.channel_id,
            item_id=item_id,
            subscription_id=subscription.id,
            guild_id=subscription.guild_id,
        )
        async with self._db.transaction() as tx:
            return await queue_delivery(tx, delivery, now)

    async def queue_feed_notice(
        self, feed_id: int, payload: Mapping[str, object], key: str, now: float
    ) -> int:
        """A notice (`payload`: e.g. "failing since …") to every active channel subscribed to
        the feed, once per (`key`, channel): dedupe key `{key}:ch:{channel}`."""
        return await self._db.write(
            INSERT_DELIVERY
            + "SELECT ? || ':ch:' || s.channel_id, 'notice', NULL, s.id, s.guild_id, "
            "'channel', s.channel_id, ?, 'pending', ?, ? FROM subscriptions s "
            "WHERE s.feed_id = ? AND s.paused_at IS NULL ORDER BY s.id "
            "ON CONFLICT (dedupe_key) DO NOTHING",
            (key, json.dumps(dict(payload)), now, now, feed_id),
        )

    async def due(self, now: float, limit: int) -> list[DeliveryRow]:
        """Due pending deliveries, at most one per target: its oldest unfinished one (a later
        item never overtakes one waiting to be retried)."""
        return await self._all(
            _delivery,
            f"{_SELECT} WHERE {_HEADS_ITS_TARGET} AND d.next_attempt_at <= ? "
            "ORDER BY d.next_attempt_at, d.id LIMIT ?",
            (now, limit),
        )

    async def next_due_at(self) -> float | None:
        """When the earliest pending delivery that heads its target's queue becomes due
        (None: nothing pending)."""
        due = await self._scalar(
            f"SELECT min(d.next_attempt_at) FROM deliveries d WHERE {_HEADS_ITS_TARGET}",
        )
        return None if due is None else float(due)

    async def get(self, delivery_id: int) -> DeliveryRow | None:
        return await self._one(_delivery, f"{_SELECT} WHERE d.id = ?", (delivery_id,))

    async def for_target(
        self, target_kind: TargetKind, target_id: int, state: DeliveryState | None = None
    ) -> list[DeliveryRow]:
        """The target's deliveries (in one state, if given), oldest first."""
        return await self._all(
            _delivery,
            f"{_SELECT} WHERE d.target_kind = ? AND d.target_id = ? "
            "AND d.state = coalesce(?, d.state) ORDER BY d.id",
            (target_kind, target_id, state),
        )

    async def merged_sources(self, delivery_id: int) -> list[tuple[str, str | None]]:
        """The feeds (name, the item's link) whose items were merged into the post of
        `delivery_id`, in the order they arrived; cancelled merges left out."""
        return await self._all(
            lambda title, url: (str(title), url),
            "SELECT coalesce(f.title, f.url), i.url FROM deliveries d "
            "JOIN items i ON i.id = d.item_id JOIN feeds f ON f.id = i.feed_id "
            "WHERE d.merged_into = ? AND d.kind = 'edit' AND d.state != 'cancelled' "
            "ORDER BY d.id",
            (delivery_id,),
        )

    async def mark_sending(
        self, delivery_id: int, now: float, *, owner: str | None = None, lease_s: float = 0.0
    ) -> bool:
        """Claim a pending delivery just before sending it (attempts + 1), committed BEFORE
        the send: after a crash, 'sending' means it may have reached Discord. False if it is
        no longer pending or no longer heads its target (another process claimed an older
        one). `owner` holds the claim until `now + lease_s` (renewed while it runs)."""
        return (
            await self._db.write(
                "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                "claimed_by = ?, lease_until = ? "
                f"WHERE id = ? AND {_HEADS_ITS_TARGET.replace('d.', 'deliveries.')}",
                (owner, now + lease_s, delivery_id),
            )
            > 0
        )

    async def renew_leases(self, owner: str, until: float) -> int:
        """Extend the leases of the deliveries `owner` is sending (it is alive)."""
        return await self._db.write(
            "UPDATE deliveries SET lease_until = ? WHERE state = 'sending' AND claimed_by = ?",
            (until, owner),
        )

    async def take_over_expired(self, now: float) -> int:
        """Deliveries whose sender's lease expired (the process died mid-send) go back to
        pending, flagged `maybe_sent` so the next sender looks for the message first."""
        return await self._db.write(
            "UPDATE deliveries SET state = 'pending', maybe_sent = 1, claimed_by = NULL "
            "WHERE state = 'sending' AND coalesce(lease_until, 0) <= ?",
            (now,),
        )

    async def mark_sent(self, delivery_id: int, message_id: int | None, now: float) -> None:
        await self._db.write(
            "UPDATE deliveries SET state = 'sent', message_id = ?, sent_at = ?, "
            "maybe_sent = 0, last_error = NULL WHERE id = ?",
            (message_id, now, delivery_id),
        )

    async def retry_later(
        self,
        delivery_id: int,
        error: str,
        next_attempt_at: float,
        *,
        maybe_sent: bool = False,
        owner: str | None = None,
    ) -> None:
        """Back to pending, due at `next_attempt_at`, if `owner` still holds the claim.
        `maybe_sent`: the attempt may have reached Discord (timeout, 5xx): look first."""
        await self._db.write(
            "UPDATE deliveries SET state = 'pending', last_error = ?, next_attempt_at = ?, "
            "maybe_sent = CASE WHEN ? THEN 1 ELSE maybe_sent END, claimed_by = NULL "
            "WHERE id = ? AND state = 'sending' AND coalesce(claimed_by, '') = coalesce(?, '')",
            (error, next_attempt_at, maybe_sent, delivery_id, owner),
        )

    async def save_progress(self, delivery_id: int, sent: Sequence[int | None]) -> None:
        """Remember the messages of a delivery already sent, so a retry or a restart goes on
        with the next one (kept in its payload, under "sent")."""
        async with self._db.transaction() as tx:
            payload = await scalar(
                tx, "SELECT payload FROM deliveries WHERE id = ?", (delivery_id,)
            )
            kept = payload_of(payload)
            await tx.execute(
                "UPDATE deliveries SET payload = ? WHERE id = ?",
                (json.dumps({**kept, "sent": list(sent)}), delivery_id),
            )

    async def fail(self, delivery_id: int, error: str) -> None:
        """Give up on one delivery (it will never be retried)."""
        await self._db.write(
            "UPDATE deliveries SET state = 'failed', last_error = ? WHERE id = ?",
            (error, delivery_id),
        )

    async def cancel(self, delivery_id: int, reason: str) -> None:
        await self._db.write(
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
        notices: Sequence[NewDelivery] = (),
    ) -> None:
        """The target cannot be reached (403/404): in one transaction, pause its unfinished
        deliveries and the channel's subscriptions, and queue `notices` (`notice_to`)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET state = 'paused', last_error = ? "
                "WHERE target_kind = ? AND target_id = ? AND state IN ('pending', 'sending')",
                (reason, target_kind, target_id),
            )
            if target_kind == "channel":
                await tx.execute(
                    "UPDATE subscriptions SET paused_reason = ?, paused_at = ? "
                    "WHERE channel_id = ? AND paused_at IS NULL",
                    (reason, now, target_id),
                )
            for notice in notices:
                await queue_delivery(tx, notice, now)

    async def recover_in_flight(self, now: float) -> int:
        """At start: 'sending' rows a crash left go back to pending (`take_over_expired`). On
        SQLite (one process) every one is a crashed run's; on PostgreSQL only expired ones."""
        return await self.take_over_expired(now if is_postgres(self._db) else math.inf)

    async def counts(self) -> dict[DeliveryState, int]:
        """How many deliveries are in each state (every state present, 0 when none)."""
        found = await self._all(
            lambda state, count: (state, int(count)),
            "SELECT state, count(*) FROM deliveries GROUP BY state",
        )
        return {**dict.fromkeys(STATES, 0), **dict(found)}
