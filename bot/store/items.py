"""The items archive and its full-text index.

The body is stored once, in items.content_text, CJK-spaced as the index reads it
(`unspace_cjk` undoes it for display). items_fts is an external-content FTS5 index over the
items_fts_src view, kept in step by triggers on items (0009) in the writing transaction. On
PostgreSQL the index is items.search, written here with the item (bot.store.pgsearch).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import EnrichedItem, ItemRow, ItemText
from bot.store.cjk import space_cjk
from bot.store.db import Connection, ReadConnection, Table, fetch_all, fetch_one, marks, scalar
from bot.store.pgsearch import index_item


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
    stable_ids: dict[int, str]  # new id → its entry's stable id


_SELECT = (
    "SELECT i.id, i.feed_id, i.stable_id, i.url, i.title, i.author, i.published_at, "
    "i.first_seen_at, i.summary, i.image_url, i.enclosure_url, i.enclosure_type, "
    "i.enclosure_length, i.duration_s, i.language, i.content_hash, f.title, f.url, f.site_url, "
    "i.canonical_url "
    "FROM items i JOIN feeds f ON f.id = i.feed_id"
)
# What both a new item and an edit write (in the order of `save_items`'s values).
_WRITTEN = (
    "raw_hash, content_hash, url, title, author, content_text, summary, fts_title, fts_summary, "
    "image_url, enclosure_url, enclosure_type, enclosure_length, duration_s, language, "
    "opening_html, canonical_url"
)
# The raw opening kept for {excerpt} (cleaned when a post renders): 8,000 characters of HTML
# hold ~1,300+ characters of text even in markup-heavy Substack posts (more than a message
# shows); zlib keeps it at ~3.3 kB per item (measured on the sample feed).
OPENING_HTML_CHARS = 8_000
_INSERT = (
    f"INSERT INTO items ({_WRITTEN}, feed_id, stable_id, published_at, first_seen_at) "
    f"VALUES ({marks(range(_WRITTEN.count(',') + 5))}) RETURNING id"
)
_UPDATE = (
    f"UPDATE items SET {', '.join(f'{column} = ?' for column in _WRITTEN.split(', '))}, "
    "published_at = coalesce(?, published_at), updated_at = ? WHERE id = ?"
)


async def save_items(
    tx: Connection, feed_id: int, fresh: Sequence[FreshItem], *, now: float
) -> SaveResult:
    """Inside a write transaction: insert new items, update edited ones (stable id known:
    not new), index both. `fresh` is in feed order (newest first); new ids are returned
    oldest first so channels get a feed's items in order."""
    new_ids: list[int] = []
    updated_ids: list[int] = []
    unchanged = 0
    stable_ids: dict[int, str] = {}
    for fresh_item in reversed(fresh):
        item, entry = fresh_item.item, fresh_item.item.entry
        existing = await fetch_one(
            tx,
            lambda item_id, raw_hash: (int(item_id), str(raw_hash)),
            "SELECT id, raw_hash FROM items WHERE feed_id = ? AND stable_id = ?",
            (feed_id, entry.stable_id),
        )
        published = entry.published.timestamp() if entry.published else None
        enclosure = entry.enclosure
        text = space_cjk(item.content_text)
        values = (
            fresh_item.raw_hash,
            item.content_hash,
            entry.url,
            entry.title,
            entry.author,
            text,
            item.summary,
            _spaced_or_none(entry.title),
            _spaced_or_none(item.summary),
            item.image_url,
            enclosure.url if enclosure else None,
            enclosure.type if enclosure else None,
            enclosure.length if enclosure else None,
            entry.duration_s,
            entry.language,
            _packed_opening(entry.content_html or entry.description_html),
            entry.canonical_url,
        )
        if existing is None:
            if await scalar(
                tx,
                "SELECT 1 FROM item_tombstones WHERE feed_id = ? AND stable_id = ?",
                (feed_id, entry.stable_id),
            ):
                unchanged += 1  # pruned by retention: never archived or posted again
                continue
            item_id = await scalar(
                tx,
                _INSERT,
                (*values, feed_id, entry.stable_id, now if published is None else published, now),
            )
            new_ids.append(int(item_id))
            stable_ids[int(item_id)] = entry.stable_id
            await index_item(tx, int(item_id), entry.title, item.summary, text)
        elif existing[1] == fresh_item.raw_hash:
            unchanged += 1
        else:
            await tx.execute(_UPDATE, (*values, published, now, existing[0]))
            await index_item(tx, int(existing[0]), entry.title, item.summary, text)
            updated_ids.append(int(existing[0]))
    return SaveResult(new_ids, updated_ids, unchanged, stable_ids)


_TEXTS = "SELECT id, url, title, summary, content_text, canonical_url FROM items"


async def item_texts(conn: ReadConnection, item_ids: Sequence[int]) -> dict[int, ItemText]:
    """The searchable text of the given items (what filters read), by id."""
    rows = await fetch_all(conn, ItemText, f"{_TEXTS} WHERE id IN ({marks(item_ids)})", item_ids)
    return {row.id: row for row in rows}


def _packed_opening(html: str) -> bytes | None:
    opening = html[:OPENING_HTML_CHARS]
    return zlib.compress(opening.encode("utf-8"), 6) if opening else None


def _spaced_or_none(text: str) -> str | None:
    """The CJK-spaced form of a title or summary, or None when spacing leaves it unchanged
    (the index then reads the column itself: see the items_fts_src view)."""
    spaced = space_cjk(text)
    return None if spaced == text else spaced


class ItemStore(Table):
    async def known_fingerprints(self, feed_id: int) -> dict[str, str]:
        """stable_id → raw_hash of every archived item of the feed, and of its pruned items
        (tombstones): an unchanged pruned entry is not enriched again."""
        return dict(
            await self._all(
                lambda stable_id, raw_hash: (str(stable_id), str(raw_hash)),
                "SELECT stable_id, raw_hash FROM items WHERE feed_id = ? "
                "UNION ALL SELECT stable_id, raw_hash FROM item_tombstones WHERE feed_id = ?",
                (feed_id, feed_id),
            )
        )

    async def get(self, item_id: int) -> ItemRow | None:
        return await self._one(ItemRow, f"{_SELECT} WHERE i.id = ?", (item_id,))

    async def opening_html(self, item_id: int) -> str | None:
        """The opening of the item's raw body (hostile HTML; None: not kept)."""
        value = await self._scalar("SELECT opening_html FROM items WHERE id = ?", (item_id,))
        return None if value is None else zlib.decompress(value).decode("utf-8")

    async def text(self, item_id: int) -> ItemText | None:
        """The item's searchable text: what /search, filters and `/feed mention when` read."""
        return await self._one(ItemText, f"{_TEXTS} WHERE id = ?", (item_id,))

    async def many(self, item_ids: Sequence[int]) -> list[ItemRow]:
        rows = await self._all(ItemRow, f"{_SELECT} WHERE i.id IN ({marks(item_ids)})", item_ids)
        by_id = {row.id: row for row in rows}
        return [by_id[i] for i in item_ids if i in by_id]

    async def latest(self, feed_ids: Sequence[int], limit: int) -> list[ItemRow]:
        """The newest items of the given feeds, newest first."""
        return await self._all(
            ItemRow,
            f"{_SELECT} WHERE i.feed_id IN ({marks(feed_ids)}) "
            "ORDER BY i.published_at DESC, i.id DESC LIMIT ?",
            (*feed_ids, limit),
        )

    async def latest_texts(self, feed_id: int, limit: int) -> list[ItemText]:
        """The feed's newest items' searchable text, newest first (a filter's preview)."""
        return await self._all(
            ItemText,
            f"{_TEXTS} WHERE feed_id = ? ORDER BY published_at DESC, id DESC LIMIT ?",
            (feed_id, limit),
        )

    async def weekly_counts(
        self, feed_ids: Sequence[int], since: float, until: float, *, period_s: float
    ) -> dict[int, dict[int, int]]:
        """Per feed, how many items were published in each period of `period_s` seconds from
        `since` (period 0) up to `until`: feed id → {period: count}; empty periods left out."""
        counts: dict[int, dict[int, int]] = {}
        for feed_id, period, count in await self._db.reader.execute_fetchall(
            "SELECT feed_id, CAST((published_at - ?) / ? AS INTEGER) AS period, count(*) "
            f"FROM items WHERE feed_id IN ({marks(feed_ids)}) AND published_at >= ? "
            "AND published_at < ? GROUP BY feed_id, period",
            (since, period_s, *feed_ids, since, until),
        ):
            counts.setdefault(int(feed_id), {})[int(period)] = int(count)
        return counts

    async def newest_published(self, feed_ids: Sequence[int], until: float) -> dict[int, float]:
        """Per feed, the publish time of its newest item not dated after `until`."""
        rows = await self._db.reader.execute_fetchall(
            f"SELECT feed_id, max(published_at) FROM items WHERE feed_id IN ({marks(feed_ids)}) "
            "AND published_at <= ? GROUP BY feed_id",
            (*feed_ids, until),
        )
        return {int(feed_id): float(newest) for feed_id, newest in rows if newest is not None}

    async def count(self, feed_id: int | None = None) -> int:
        if feed_id is None:
            return int(await self._scalar("SELECT count(*) FROM items"))
        return int(await self._scalar("SELECT count(*) FROM items WHERE feed_id = ?", (feed_id,)))
