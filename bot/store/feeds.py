"""The feeds table: what to poll, when, and how it went (a poll's outcome: bot.store.polls)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.model import FeedRow
from bot.store.db import Table, fetch_one

_SELECT = (
    "SELECT id, url, title, site_url, description, language, etag, last_modified, body_hash, "
    "interval_s, next_poll_at, last_polled_at, last_success_at, last_new_item_at, "
    "consecutive_errors, last_error, failing_since, disabled, disabled_reason, created_at "
    "FROM feeds"
)


def _feed(*values: Any) -> FeedRow:
    row = FeedRow(*values)
    return replace(row, disabled=bool(row.disabled))


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a successful fetch+parse learned about a feed."""

    title: str
    site_url: str | None
    description: str | None
    language: str | None
    image_url: str | None = None


class FeedStore(Table):
    async def add(
        self, url: str, *, interval_s: float, now: float, first_poll_at: float
    ) -> FeedRow:
        """Insert the feed if its (normalized) URL is new; return the row either way."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO feeds (url, interval_s, next_poll_at, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (url) DO NOTHING",
                (url, interval_s, first_poll_at, now),
            )
            row = await fetch_one(tx, _feed, f"{_SELECT} WHERE url = ?", (url,))
        assert row is not None
        return row

    async def image_url(self, feed_id: int) -> str | None:
        """The feed's own image, as its last successful poll gave it (None: it has none)."""
        value = await self._scalar("SELECT image_url FROM feeds WHERE id = ?", (feed_id,))
        return None if value is None else str(value)

    async def get(self, feed_id: int) -> FeedRow | None:
        return await self._one(_feed, f"{_SELECT} WHERE id = ?", (feed_id,))

    async def by_url(self, url: str) -> FeedRow | None:
        return await self._one(_feed, f"{_SELECT} WHERE url = ?", (url,))

    async def all(self) -> list[FeedRow]:
        return await self._all(_feed, f"{_SELECT} ORDER BY id")

    async def due(self, now: float, limit: int) -> list[FeedRow]:
        """Enabled feeds whose next poll time has come, most overdue first."""
        return await self._all(
            _feed,
            f"{_SELECT} WHERE disabled = 0 AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?",
            (now, limit),
        )

    async def next_due_at(self) -> float | None:
        due = await self._scalar("SELECT min(next_poll_at) FROM feeds WHERE disabled = 0")
        return None if due is None else float(due)
