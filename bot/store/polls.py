"""The outcome of one poll, written in one transaction: items, index, feed state."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import aiosqlite

from bot.store.db import Database
from bot.store.feeds import FeedMeta, record_failure, record_success
from bot.store.items import FreshItem, SaveResult, save_items
from bot.store.routing import route_new_items
from bot.store.topics import queue_topic_dms_tx


@dataclass(frozen=True, slots=True)
class PollSuccess:
    now: float
    next_poll_at: float
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    meta: FeedMeta | None


async def commit_poll(
    db: Database,
    feed_id: int,
    fresh: Sequence[FreshItem],
    success: PollSuccess,
    *,
    route: bool = True,
    topic_matches: Mapping[str, Collection[int]] | None = None,
) -> SaveResult:
    """Archive the poll's new and edited items, queue the deliveries the new ones cause and
    record the success, atomically: after a crash either all of it happened or none of it.

    With `route`, new items are queued for the feed's instant-mode channels, except on the
    feed's first successful poll: those items are the archive (a new subscription posts a few
    of them through its backfill), not news. `topic_matches` (stable id → the followed topics
    the entry matches) queues the topic DMs of the items that turn out new, under the same
    rule: edits and the first poll's archive notify no one.
    """
    async with db.transaction() as tx:
        first_success = False
        if route:
            async with tx.execute(
                "SELECT last_success_at IS NULL FROM feeds WHERE id = ?", (feed_id,)
            ) as cursor:
                row = await cursor.fetchone()
            first_success = bool(row and row[0])
        result = await save_items(tx, feed_id, fresh, now=success.now)
        if route and not first_success and result.new_ids:
            await route_new_items(tx, feed_id, result.new_ids, success.now)
            if topic_matches:
                await _queue_topic_dms(tx, feed_id, result.new_ids, topic_matches, success.now)
        await record_success(
            tx,
            feed_id,
            now=success.now,
            next_poll_at=success.next_poll_at,
            etag=success.etag,
            last_modified=success.last_modified,
            body_hash=success.body_hash,
            meta=success.meta,
            had_new_items=bool(result.new_ids),
        )
    return result


async def _queue_topic_dms(
    tx: aiosqlite.Connection,
    feed_id: int,
    new_ids: Sequence[int],
    topic_matches: Mapping[str, Collection[int]],
    now: float,
) -> int:
    """The topic DMs of the poll's new items (oldest first); returns how many were queued."""
    marks = ",".join("?" * len(new_ids))
    async with tx.execute(
        f"SELECT id, stable_id FROM items WHERE id IN ({marks})", tuple(new_ids)
    ) as cursor:
        stable_ids = {int(row[0]): str(row[1]) for row in await cursor.fetchall()}
    queued = 0
    for item_id in new_ids:
        matched = topic_matches.get(stable_ids.get(item_id, ""))
        if matched:
            queued += await queue_topic_dms_tx(tx, item_id, feed_id, sorted(matched), now)
    return queued


async def commit_failure(
    db: Database, feed_id: int, *, now: float, next_poll_at: float, error: str
) -> int:
    """Record a failed poll; return how many polls in a row have failed."""
    async with db.transaction() as tx:
        return await record_failure(tx, feed_id, now=now, next_poll_at=next_poll_at, error=error)
