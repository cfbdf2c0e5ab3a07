"""Queue deliveries inside a write transaction: what new items, digests and topic DMs cause.

Every function here takes the open write transaction, so the deliveries are committed together
with whatever caused them (a poll's new items, a digest's slot). Deliveries are unique per
dedupe key: queueing the same thing twice is a no-op.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from bot.model import DeliveryKind, FeedFilter, ItemText, StoryKey, TargetKind
from bot.store.db import Connection, fetch_all, marks
from bot.store.items import item_texts
from bot.store.postgres import json_ids
from bot.store.subscriptions import filter_of

log = logging.getLogger(__name__)

FilterGate = Callable[[Sequence[FeedFilter], ItemText], Sequence[str | None]]
"""Subscriptions' filters and an item → for each filter the rule that holds the item back
(None: it passes). bot.features.feeds.filters.check_filters is the one the bot runs; the store
only calls it. Without one, items are held back from every filtered subscription (never
posted against a filter) and a warning is logged."""


class StoryGate(Protocol):
    """Decides "the same story" (bot.ingest.story's STORY_MATCHER is the one the bot runs)."""

    def key(self, item: ItemText) -> StoryKey: ...

    def same(self, new: StoryKey, earlier: StoryKey) -> bool: ...


#: A channel that got a story from one of its feeds this recently does not get it again.
STORY_WINDOW_S = 72 * 3600.0

# In a WHERE on `subscriptions`: a subscription whose new items may be merged into a post.
_MERGING = "mode = 'instant' AND merge_stories = 1"

# In a WHERE on `subscriptions s`: the subscription has a filter.
HAS_FILTER = "coalesce(s.filter_include, s.filter_exclude, s.filter_pattern) IS NOT NULL"


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


async def queue_delivery(tx: Connection, delivery: NewDelivery, now: float) -> bool:
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


def payload_of(payload: str | None) -> dict[str, Any]:
    """A delivery's stored payload ({}: none, or unreadable)."""
    try:
        found = json.loads(payload or "")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


async def route_new_items(
    tx: Connection,
    feed_id: int,
    item_ids: Sequence[int],
    now: float,
    gate: FilterGate | None = None,
    stories: StoryGate | None = None,
) -> int:
    """Inside the poll's transaction: one 'item' delivery per (new item, instant-mode
    subscription of the feed whose filter lets it through: `gate` decides). `item_ids`
    oldest first; they are queued in that order so each channel gets them oldest first. A
    paused subscription's deliveries are queued as 'paused' (sent, up to a limit, when it
    resumes). With `stories`, an item whose story the channel already got from another feed
    within `STORY_WINDOW_S` is queued as an 'edit' of that post instead (unless the
    subscription turned merging off). Returns how many were queued."""
    held = await held_back(tx, feed_id, item_ids, gate)
    merged = (
        {} if stories is None else await _same_stories(tx, feed_id, item_ids, now, stories, held)
    )
    queued = 0
    for item_id in item_ids:
        into = merged.get(item_id, {})
        skip = [*held.get(item_id, []), *into]
        for subscription_id, original_id in into.items():
            await tx.execute(
                "INSERT INTO deliveries (dedupe_key, kind, item_id, subscription_id, guild_id, "
                "target_kind, target_id, state, next_attempt_at, created_at, merged_into) "
                "SELECT 'item:' || ? || ':ch:' || s.channel_id, 'edit', ?, s.id, s.guild_id, "
                "'channel', s.channel_id, "
                "CASE WHEN s.paused_at IS NULL THEN 'pending' ELSE 'paused' END, ?, ?, ? "
                "FROM subscriptions s WHERE s.id = ? ON CONFLICT (dedupe_key) DO NOTHING",
                (item_id, item_id, now, now, original_id, subscription_id),
            )
        cursor = await tx.execute(
            INSERT_DELIVERY + "SELECT 'item:' || ? || ':ch:' || s.channel_id, 'item', ?, s.id, "
            "s.guild_id, 'channel', s.channel_id, NULL, "
            "CASE WHEN s.paused_at IS NULL THEN 'pending' ELSE 'paused' END, ?, ? "
            "FROM subscriptions s WHERE s.feed_id = ? AND s.mode = 'instant' "
            f"AND s.id NOT IN ({marks(skip)}) ORDER BY s.id "
            "ON CONFLICT (dedupe_key) DO NOTHING",
            (item_id, item_id, now, now, feed_id, *skip),
        )
        queued += max(cursor.rowcount, 0)
    return queued


async def held_back(
    conn: Connection, feed_id: int, item_ids: Sequence[int], gate: FilterGate | None
) -> dict[int, list[int]]:
    """Item id → the ids of the feed's instant-mode subscriptions whose filter holds that item
    back. Items are read only when some subscription filters."""
    filtered = await fetch_all(
        conn,
        lambda sub_id, *parts: (int(sub_id), filter_of(*parts)),
        "SELECT s.id, s.filter_include, s.filter_exclude, s.filter_pattern FROM subscriptions s "
        f"WHERE s.feed_id = ? AND s.mode = 'instant' AND {HAS_FILTER} ORDER BY s.id",
        (feed_id,),
    )
    checks = [(sub_id, found) for sub_id, found in filtered if found is not None]
    if not checks or not item_ids:
        return {}
    if gate is None:
        log.warning(
            "feed %d: no filter check was given; its new items are held back from %d "
            "filtered subscription(s)",
            feed_id,
            len(checks),
        )
        return {item_id: [sub_id for sub_id, _ in checks] for item_id in item_ids}
    texts = await item_texts(conn, item_ids)
    filters = [found for _, found in checks]
    held: dict[int, list[int]] = {}
    for item_id in item_ids:
        text = texts.get(item_id)
        if text is None:
            continue
        rules = gate(filters, text)
        held[item_id] = [sub_id for (sub_id, _), rule in zip(checks, rules, strict=True) if rule]
    return held


async def _same_stories(
    tx: Connection,
    feed_id: int,
    item_ids: Sequence[int],
    now: float,
    stories: StoryGate,
    held: dict[int, list[int]],
) -> dict[int, dict[int, int]]:
    """Item id → {subscription id → the delivery whose post already told the item's story in
    that subscription's channel}. Writes each new item's story key, so later items are compared
    with it. Candidates: the channel's posts ('item' deliveries not failed or cancelled) of the
    last `STORY_WINDOW_S` from other feeds, earliest first."""
    texts = await item_texts(tx, item_ids)
    keys = {item_id: stories.key(text) for item_id, text in texts.items()}
    # Two statements for the poll's every new item (each await is a round trip to the
    # database thread).
    await tx.executemany(
        "UPDATE items SET story_url = ?, story_sketch = ? WHERE id = ?",
        [(key.url, key.sketch, item_id) for item_id, key in keys.items()],
    )
    await tx.executemany(
        "INSERT INTO story_bands (band, seen_at, item_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(band, now, item_id) for item_id, key in keys.items() for band in key.bands],
    )
    merged: dict[int, dict[int, int]] = {}
    since = now - STORY_WINDOW_S
    for item_id, key in keys.items():
        # Items of other feeds with the same link key or a shared band (of the window), with
        # their sketches, in one query (none when no subscription of the feed merges). Only
        # those of the same story are looked up among the channels' posts, so a candidate
        # costs one row read, not two.
        candidates = await fetch_all(
            tx,
            lambda candidate_id, url, sketch: (int(candidate_id), StoryKey(url, bytes(sketch))),
            "SELECT i.id, i.story_url, i.story_sketch FROM ("
            + (
                f"SELECT b.item_id FROM story_bands b WHERE b.band IN ({marks(key.bands)}) "
                "AND b.seen_at >= ? UNION "
                if key.bands
                else ""
            )
            + "SELECT id AS item_id FROM items WHERE story_url = ?) c "
            "JOIN items i ON i.id = c.item_id "
            "WHERE i.feed_id != ? AND i.story_sketch IS NOT NULL AND EXISTS ("
            f"SELECT 1 FROM subscriptions WHERE feed_id = ? AND {_MERGING})",
            (*key.bands, *([since] if key.bands else []), key.url, feed_id, feed_id),
        )
        same = [found for found, earlier in candidates if stories.same(key, earlier)]
        if not same:
            continue
        # The merging subscriptions of the feed, each with its channel's posts of these
        # items, earliest first (by item, never by the index that would read a channel's
        # whole window: hence the unary +). As JSON: a link key many archived items share
        # must not exceed SQLite's limit on bound values.
        posts = await fetch_all(
            tx,
            lambda sub_id, delivery_id: (int(sub_id), int(delivery_id)),
            "SELECT s.id, d.id FROM deliveries d JOIN subscriptions s "
            "ON s.channel_id = +d.target_id "
            f"WHERE d.item_id IN ({json_ids(tx)}) AND +d.kind = 'item' "
            "AND +d.target_kind = 'channel' AND +d.created_at >= ? "
            f"AND +d.state NOT IN ('failed', 'cancelled') AND s.feed_id = ? AND {_MERGING} "
            "ORDER BY s.id, d.id",
            (json.dumps(same), since, feed_id),
        )
        held_from = held.get(item_id, [])
        for sub_id, delivery_id in posts:
            if sub_id not in held_from:
                merged.setdefault(item_id, {}).setdefault(sub_id, delivery_id)
    return merged
