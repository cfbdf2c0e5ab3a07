"""Queue deliveries inside a write transaction: what new items, digests and topic DMs cause.

Every function here takes the open write transaction, so the deliveries are committed together
with whatever caused them (a poll's new items, a digest's slot). Deliveries are unique per
dedupe key: queueing the same thing twice is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import aiosqlite

from bot.model import DeliveryKind, TargetKind


def dm_key(item_id: int, user_id: int) -> str:
    return f"dm:{item_id}:u:{user_id}"


def digest_key(channel_id: int, period: str) -> str:
    return f"digest:{channel_id}:{period}"


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """One delivery to queue. `payload` is stored as JSON."""

    dedupe_key: str
    kind: DeliveryKind
    target_kind: TargetKind
    target_id: int
    item_id: int | None = None
    subscription_id: int | None = None
    guild_id: int | None = None
    payload: Mapping[str, object] | None = None
    state: Literal["pending", "paused"] = "pending"


# Every way of queueing a delivery (here and in bot.store.deliveries) writes these columns.
INSERT_DELIVERY = (
    "INSERT INTO deliveries (dedupe_key, kind, item_id, subscription_id, guild_id, target_kind, "
    "target_id, payload, state, next_attempt_at, created_at) "
)


async def queue_delivery(tx: aiosqlite.Connection, delivery: NewDelivery, now: float) -> bool:
    """Inside a write transaction: queue one delivery; False if its dedupe key was queued
    before (whatever its state)."""
    payload = None if delivery.payload is None else json.dumps(dict(delivery.payload))
    cursor = await tx.execute(
        INSERT_DELIVERY + "VALUES (:dedupe_key, :kind, :item_id, :subscription_id, :guild_id, "
        ":target_kind, :target_id, :payload, :state, :now, :now) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        {**asdict(delivery), "payload": payload, "now": now},
    )
    return cursor.rowcount > 0


async def route_new_items(
    tx: aiosqlite.Connection, feed_id: int, item_ids: Sequence[int], now: float
) -> int:
    """Inside the poll's transaction: one 'item' delivery per (new item, instant-mode
    subscription of the feed). `item_ids` oldest first; they are queued in that order so
    each channel gets them oldest first. A paused subscription's deliveries are queued as
    'paused' (sent, up to a limit, when it resumes). Returns how many were queued."""
    queued = 0
    for item_id in item_ids:
        cursor = await tx.execute(
            INSERT_DELIVERY + "SELECT 'item:' || ? || ':ch:' || s.channel_id, 'item', ?, s.id, "
            "s.guild_id, 'channel', s.channel_id, NULL, "
            "CASE WHEN s.paused_at IS NULL THEN 'pending' ELSE 'paused' END, ?, ? "
            "FROM subscriptions s WHERE s.feed_id = ? AND s.mode = 'instant' ORDER BY s.id "
            "ON CONFLICT (dedupe_key) DO NOTHING",
            (item_id, item_id, now, now, feed_id),
        )
        queued += max(cursor.rowcount, 0)
    return queued
