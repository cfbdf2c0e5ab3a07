"""Build a real archive for search/topic tests: feeds and items through the store's own code."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bot.model import EnrichedItem, Entry
from bot.store.db import Backend
from bot.store.feeds import FeedStore
from bot.store.items import FreshItem, save_items

NOW = 1_700_000_000.0


def make_item(
    stable_id: str,
    title: str,
    text: str = "",
    *,
    summary: str = "",
    author: str | None = None,
    published: float | None = None,
) -> FreshItem:
    entry = Entry(
        stable_id=stable_id,
        title=title,
        url=f"https://example.com/{stable_id}",
        author=author,
        published=datetime.fromtimestamp(published, UTC) if published is not None else None,
        content_html=f"<p>{text}</p>",
        description_html=summary,
    )
    digest = hashlib.sha256(f"{title}\n{summary}\n{text}".encode()).hexdigest()
    item = EnrichedItem(
        entry=entry,
        content_text=text,
        summary=summary,
        image_url=None,
        content_hash=digest,
    )
    return FreshItem(item, raw_hash=digest)


async def add_feed(db: Backend, name: str) -> int:
    feed = await FeedStore(db).add(
        f"https://{name}.example.com/feed", interval_s=900, now=NOW, first_poll_at=NOW
    )
    async with db.transaction() as tx:
        await tx.execute("UPDATE feeds SET title = ? WHERE id = ?", (name.title(), feed.id))
    return feed.id


async def add_items(db: Backend, feed_id: int, items: list[FreshItem]) -> list[int]:
    """Save items (given oldest first); their ids, in the same order."""
    async with db.transaction() as tx:
        result = await save_items(tx, feed_id, list(reversed(items)), now=NOW)
    return result.new_ids


async def index_matches(db: Backend, fts_query: str) -> list[int]:
    """Item ids whose search index rows match an FTS5 expression, best first."""
    rows = await db.reader.execute_fetchall(
        "SELECT rowid FROM items_fts WHERE items_fts MATCH ? "
        "ORDER BY bm25(items_fts, 10.0, 3.0, 1.0) LIMIT 50",
        (fts_query,),
    )
    return [int(row[0]) for row in rows]
