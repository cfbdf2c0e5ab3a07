"""The outcome of one poll, written in one transaction: items, index, feed state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.db import Database
from bot.store.feeds import FeedMeta, record_failure, record_success
from bot.store.items import FreshItem, SaveResult, save_items


@dataclass(frozen=True, slots=True)
class PollSuccess:
    now: float
    next_poll_at: float
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    meta: FeedMeta | None


async def commit_poll(
    db: Database, feed_id: int, fresh: Sequence[FreshItem], success: PollSuccess
) -> SaveResult:
    """Archive the poll's new and edited items and record the success, atomically."""
    async with db.transaction() as tx:
        result = await save_items(tx, feed_id, fresh, now=success.now)
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


async def commit_failure(
    db: Database, feed_id: int, *, now: float, next_poll_at: float, error: str
) -> int:
    """Record a failed poll; return how many polls in a row have failed."""
    async with db.transaction() as tx:
        return await record_failure(tx, feed_id, now=now, next_poll_at=next_poll_at, error=error)
