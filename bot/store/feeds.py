"""The feeds table: what to poll, when, and how it went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.model import FeedRow
from bot.store.db import Database

_FEED_COLUMNS = (
    "id, url, title, site_url, description, language, etag, last_modified, body_hash, "
    "interval_s, next_poll_at, last_polled_at, last_success_at, last_new_item_at, "
    "consecutive_errors, last_error, failing_since, disabled, disabled_reason, created_at"
)


def _row(row: Sequence[object]) -> FeedRow:
    values = list(row)
    values[17] = bool(values[17])
    return FeedRow(*values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a successful fetch+parse learned about a feed."""

    title: str
    site_url: str | None
    description: str | None
    language: str | None


class FeedStore:
    def __init__(self, db: Database) -> None:
        self._db = db

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
            row = await _fetch_one(tx, f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,))
        assert row is not None
        return row

    async def get(self, feed_id: int) -> FeedRow | None:
        return await _fetch_one(
            self._db.reader, f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)
        )

    async def by_url(self, url: str) -> FeedRow | None:
        return await _fetch_one(
            self._db.reader, f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)
        )

    async def all(self) -> list[FeedRow]:
        async with self._db.reader.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY id"
        ) as cursor:
            return [_row(r) for r in await cursor.fetchall()]

    async def due(self, now: float, limit: int) -> list[FeedRow]:
        """Enabled feeds whose next poll time has come, most overdue first."""
        async with self._db.reader.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE disabled = 0 AND next_poll_at <= ? "
            "ORDER BY next_poll_at LIMIT ?",
            (now, limit),
        ) as cursor:
            return [_row(r) for r in await cursor.fetchall()]

    async def next_due_at(self) -> float | None:
        async with self._db.reader.execute(
            "SELECT min(next_poll_at) FROM feeds WHERE disabled = 0"
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def delete(self, feed_id: int) -> None:
        """Delete the feed with its items (their index rows go with them: a trigger on items,
        which cascaded deletes fire too), subscriptions and deliveries."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))


async def _fetch_one(
    conn: aiosqlite.Connection, sql: str, params: Sequence[object]
) -> FeedRow | None:
    async with conn.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _row(row)


async def record_success(
    tx: aiosqlite.Connection,
    feed_id: int,
    *,
    now: float,
    next_poll_at: float,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    meta: FeedMeta | None,
    had_new_items: bool,
) -> None:
    """Inside a write transaction: the poll worked (fetch + parse), clear the error state."""
    await tx.execute(
        "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = coalesce(?, body_hash), "
        "next_poll_at = ?, last_polled_at = ?, last_success_at = ?, "
        "last_new_item_at = CASE WHEN ? THEN ? ELSE last_new_item_at END, "
        "consecutive_errors = 0, last_error = NULL, failing_since = NULL WHERE id = ?",
        (etag, last_modified, body_hash, next_poll_at, now, now, had_new_items, now, feed_id),
    )
    if meta is not None:
        await tx.execute(
            "UPDATE feeds SET title = ?, site_url = ?, description = ?, language = ? WHERE id = ?",
            (meta.title, meta.site_url, meta.description, meta.language, feed_id),
        )


async def record_failure(
    tx: aiosqlite.Connection, feed_id: int, *, now: float, next_poll_at: float, error: str
) -> int:
    """Inside a write transaction: count one more consecutive error; return the new count."""
    await tx.execute(
        "UPDATE feeds SET consecutive_errors = consecutive_errors + 1, last_error = ?, "
        "failing_since = coalesce(failing_since, ?), last_polled_at = ?, next_poll_at = ? "
        "WHERE id = ?",
        (error, now, now, next_poll_at, feed_id),
    )
    async with tx.execute(
        "SELECT consecutive_errors FROM feeds WHERE id = ?", (feed_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
