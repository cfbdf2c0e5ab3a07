"""The outcome of one poll, written in one transaction: items, index, feed state."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass

from bot.store.db import Backend, Connection, scalar
from bot.store.feeds import FeedMeta
from bot.store.items import FreshItem, SaveResult, save_items
from bot.store.routing import FilterGate, StoryGate, route_new_items
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
    db: Backend,
    feed_id: int,
    fresh: Sequence[FreshItem],
    success: PollSuccess,
    *,
    route: bool = True,
    topic_matches: Mapping[str, Collection[int]] | None = None,
    filter_gate: FilterGate | None = None,
    story_gate: StoryGate | None = None,
) -> SaveResult:
    """Archive the poll's new and edited items, queue the deliveries the new ones cause and
    record the success, atomically: after a crash either all of it happened or none of it.

    With `route`, new items go to the feed's instant-mode channels and their topic DMs
    (`topic_matches`: stable id → followed topics matched) are queued, except on the feed's
    first successful poll: those items are the archive, not news; edits notify no one.
    `filter_gate` and `story_gate`: see `route_new_items`.
    """
    async with db.transaction() as tx:
        first_success = route and bool(
            await scalar(tx, "SELECT last_success_at IS NULL FROM feeds WHERE id = ?", (feed_id,))
        )
        result = await save_items(tx, feed_id, fresh, now=success.now)
        if route and not first_success and result.new_ids:
            await route_new_items(tx, feed_id, result.new_ids, success.now, filter_gate, story_gate)
            for item_id in result.new_ids:  # the topic DMs, oldest first
                if matched := (topic_matches or {}).get(result.stable_ids[item_id]):
                    await queue_topic_dms_tx(tx, item_id, feed_id, sorted(matched), success.now)
        await record_success(tx, feed_id, success, had_new_items=bool(result.new_ids))
    return result


async def record_success(
    tx: Connection, feed_id: int, success: PollSuccess, *, had_new_items: bool
) -> None:
    """Inside a write transaction: the poll worked (fetch + parse), clear the error state."""
    await tx.execute(
        "UPDATE feeds SET etag = :etag, last_modified = :last_modified, "
        "body_hash = coalesce(:body_hash, body_hash), next_poll_at = :next_poll_at, "
        "last_polled_at = :now, last_success_at = :now, "
        "last_new_item_at = CASE WHEN :new THEN :now ELSE last_new_item_at END, "
        "consecutive_errors = 0, last_error = NULL, failing_since = NULL WHERE id = :id",
        {**asdict(success), "new": had_new_items, "id": feed_id},
    )
    if success.meta is not None:
        await tx.execute(
            "UPDATE feeds SET title = :title, site_url = :site_url, description = :description, "
            "language = :language, image_url = :image_url WHERE id = :id",
            {**asdict(success.meta), "id": feed_id},
        )


async def commit_failure(
    db: Backend, feed_id: int, *, now: float, next_poll_at: float, error: str
) -> int:
    """Record a failed poll: count one more consecutive error; return how many polls in a
    row have failed."""
    async with db.transaction() as tx:
        errors = await scalar(
            tx,
            "UPDATE feeds SET consecutive_errors = consecutive_errors + 1, last_error = ?, "
            "failing_since = coalesce(failing_since, ?), last_polled_at = ?, next_poll_at = ? "
            "WHERE id = ? RETURNING consecutive_errors",
            (error, now, now, next_poll_at, feed_id),
        )
    return int(errors or 0)
