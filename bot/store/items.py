"""The items archive and its full-text index.

The body is stored once, in items.content_text, as the index reads it: CJK-spaced
(`space_cjk`; `unspace_cjk` undoes it for display). items_fts is an external-content FTS5
index over the items_fts_src view, kept in step by triggers on items (migration 0009), so
every insert, edit, prune and feed delete updates the index in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.model import EnrichedItem, ItemRow
from bot.store.cjk import space_cjk
from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class FreshItem:
    """An enriched entry plus the fingerprint of its raw form (to skip re-enrichment later)."""

    item: EnrichedItem
    raw_hash: str


@dataclass(frozen=True, slots=True)
class SaveResult:
    new_ids: list[int]  # in feed order, oldest first
    updated_ids: list[int]
    unchanged: int


_ITEM_COLUMNS = (
    "i.id, i.feed_id, i.stable_id, i.url, i.title, i.author, i.published_at, i.first_seen_at, "
    "i.summary, i.image_url, i.enclosure_url, i.enclosure_type, i.enclosure_length, "
    "i.duration_s, i.language, i.content_hash, f.title, f.url, f.site_url"
)


def _item(row: Sequence[object]) -> ItemRow:
    return ItemRow(*row)  # type: ignore[arg-type]


async def known_fingerprints(conn: aiosqlite.Connection, feed_id: int) -> dict[str, str]:
    """stable_id → raw_hash of every archived item of the feed, and of its pruned items
    (tombstones): an unchanged pruned entry is not enriched again."""
    async with conn.execute(
        "SELECT stable_id, raw_hash FROM items WHERE feed_id = ? "
        "UNION ALL SELECT stable_id, raw_hash FROM item_tombstones WHERE feed_id = ?",
        (feed_id, feed_id),
    ) as cursor:
        return {str(sid): str(h) for sid, h in await cursor.fetchall()}


async def save_items(
    tx: aiosqlite.Connection, feed_id: int, fresh: Sequence[FreshItem], *, now: float
) -> SaveResult:
    """Inside a write transaction: insert new items, update edited ones, index both.

    An item whose stable id is known is an edit: the archive and index are updated, and it is
    not new. `fresh` is in the feed's order (newest first, as feeds list them); new ids are
    returned oldest first so channels get a feed's items in order.
    """
    new_ids: list[int] = []
    updated_ids: list[int] = []
    unchanged = 0
    # Oldest first, so ids (and first_seen order) follow publication order.
    for fresh_item in reversed(fresh):
        item = fresh_item.item
        entry = item.entry
        async with tx.execute(
            "SELECT id, raw_hash FROM items WHERE feed_id = ? AND stable_id = ?",
            (feed_id, entry.stable_id),
        ) as cursor:
            existing = await cursor.fetchone()
        published = entry.published.timestamp() if entry.published else now
        enclosure = entry.enclosure
        values = (
            fresh_item.raw_hash,
            item.content_hash,
            entry.url,
            entry.title,
            entry.author,
            space_cjk(item.content_text),
            item.summary,
            _spaced_or_none(entry.title),
            _spaced_or_none(item.summary),
            item.image_url,
            enclosure.url if enclosure else None,
            enclosure.type if enclosure else None,
            enclosure.length if enclosure else None,
            entry.duration_s,
            entry.language,
        )
        if existing is None:
            if await _tombstoned(tx, feed_id, entry.stable_id):
                unchanged += 1  # pruned by retention: never archived or posted again
                continue
            cursor = await tx.execute(
                "INSERT INTO items (raw_hash, content_hash, url, title, author, content_text, "
                "summary, fts_title, fts_summary, image_url, enclosure_url, enclosure_type, "
                "enclosure_length, duration_s, language, feed_id, stable_id, published_at, "
                "first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, feed_id, entry.stable_id, published, now),
            )
            item_id = cursor.lastrowid
            assert item_id is not None
            new_ids.append(item_id)
            continue
        item_id = int(existing[0])
        if existing[1] == fresh_item.raw_hash:
            unchanged += 1
            continue
        await tx.execute(
            "UPDATE items SET raw_hash = ?, content_hash = ?, url = ?, title = ?, author = ?, "
            "content_text = ?, summary = ?, fts_title = ?, fts_summary = ?, image_url = ?, "
            "enclosure_url = ?, enclosure_type = ?, enclosure_length = ?, duration_s = ?, "
            "language = ?, published_at = coalesce(?, published_at), updated_at = ? WHERE id = ?",
            (*values, entry.published.timestamp() if entry.published else None, now, item_id),
        )
        updated_ids.append(item_id)
    return SaveResult(new_ids, updated_ids, unchanged)


async def _tombstoned(tx: aiosqlite.Connection, feed_id: int, stable_id: str) -> bool:
    async with tx.execute(
        "SELECT 1 FROM item_tombstones WHERE feed_id = ? AND stable_id = ?", (feed_id, stable_id)
    ) as cursor:
        return await cursor.fetchone() is not None


def _spaced_or_none(text: str) -> str | None:
    """The CJK-spaced form of a title or summary, or None when spacing leaves it unchanged
    (the index then reads the column itself: see the items_fts_src view)."""
    spaced = space_cjk(text)
    return None if spaced == text else spaced


class ItemStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def known_fingerprints(self, feed_id: int) -> dict[str, str]:
        return await known_fingerprints(self._db.reader, feed_id)

    async def get(self, item_id: int) -> ItemRow | None:
        async with self._db.reader.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items i JOIN feeds f ON f.id = i.feed_id WHERE i.id = ?",
            (item_id,),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _item(row)

    async def many(self, item_ids: Sequence[int]) -> list[ItemRow]:
        if not item_ids:
            return []
        marks = ",".join("?" * len(item_ids))
        async with self._db.reader.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items i JOIN feeds f ON f.id = i.feed_id "
            f"WHERE i.id IN ({marks})",
            tuple(item_ids),
        ) as cursor:
            rows = {r[0]: _item(r) for r in await cursor.fetchall()}
        return [rows[i] for i in item_ids if i in rows]

    async def latest(self, feed_ids: Sequence[int], limit: int) -> list[ItemRow]:
        """The newest items of the given feeds, newest first."""
        if not feed_ids:
            return []
        marks = ",".join("?" * len(feed_ids))
        async with self._db.reader.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items i JOIN feeds f ON f.id = i.feed_id "
            f"WHERE i.feed_id IN ({marks}) ORDER BY i.published_at DESC, i.id DESC LIMIT ?",
            (*feed_ids, limit),
        ) as cursor:
            return [_item(r) for r in await cursor.fetchall()]

    async def weekly_counts(
        self, feed_ids: Sequence[int], since: float, until: float, *, period_s: float
    ) -> dict[int, dict[int, int]]:
        """Per feed, how many items were published in each period of `period_s` seconds from
        `since` (period 0) up to `until`: feed id → {period: count}; empty periods left out."""
        if not feed_ids:
            return {}
        marks = ",".join("?" * len(feed_ids))
        async with self._db.reader.execute(
            "SELECT feed_id, CAST((published_at - ?) / ? AS INTEGER) AS period, count(*) "
            f"FROM items WHERE feed_id IN ({marks}) AND published_at >= ? AND published_at < ? "
            "GROUP BY feed_id, period",
            (since, period_s, *feed_ids, since, until),
        ) as cursor:
            counts: dict[int, dict[int, int]] = {}
            for feed_id, period, count in await cursor.fetchall():
                counts.setdefault(int(feed_id), {})[int(period)] = int(count)
            return counts

    async def newest_published(self, feed_ids: Sequence[int], until: float) -> dict[int, float]:
        """Per feed, the publish time of its newest item not dated after `until`."""
        if not feed_ids:
            return {}
        marks = ",".join("?" * len(feed_ids))
        async with self._db.reader.execute(
            f"SELECT feed_id, max(published_at) FROM items WHERE feed_id IN ({marks}) "
            "AND published_at <= ? GROUP BY feed_id",
            (*feed_ids, until),
        ) as cursor:
            return {int(f): float(t) for f, t in await cursor.fetchall() if t is not None}

    async def count(self, feed_id: int | None = None) -> int:
        sql = "SELECT count(*) FROM items" + (" WHERE feed_id = ?" if feed_id is not None else "")
        params: tuple[object, ...] = (feed_id,) if feed_id is not None else ()
        async with self._db.reader.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def match_ids(self, fts_query: str, limit: int = 50) -> list[int]:
        """Item ids whose index matches an FTS5 MATCH expression (already built and spaced)."""
        async with self._db.reader.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY bm25(items_fts, 10.0, "
            "3.0, 1.0) LIMIT ?",
            (fts_query, limit),
        ) as cursor:
            return [int(r[0]) for r in await cursor.fetchall()]
