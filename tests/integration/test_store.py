"""The SQLite store: pragmas, migrations, refusals, serialized writes, the FTS index."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import EnrichedItem, Entry
from bot.store import Store
from bot.store.cjk import space_cjk
from bot.store.db import (
    APPLICATION_ID,
    ForeignDatabaseError,
    SchemaTooNewError,
    latest_schema_version,
)
from bot.store.items import FreshItem, save_items


def make_item(stable_id: str, title: str, text: str, *, summary: str = "") -> FreshItem:
    entry = Entry(
        stable_id=stable_id,
        title=title,
        url=f"https://example.com/{stable_id}",
        author=None,
        published=datetime(2024, 1, 1, tzinfo=UTC),
        content_html=f"<p>{text}</p>",
        description_html="",
    )
    enriched = EnrichedItem(
        entry=entry,
        content_md=text,
        content_text=text,
        summary=summary or text[:50],
        keywords=(),
        image_url=None,
        content_hash=f"h-{stable_id}-{hash(text)}",
    )
    return FreshItem(enriched, f"raw-{stable_id}-{hash(text)}")


async def add_feed(store: Store, url: str = "https://example.com/feed") -> int:
    feed = await store.feeds.add(url, interval_s=900, now=0, first_poll_at=0)
    return feed.id


async def test_new_database_is_wal_with_application_id_and_version(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = await Store.open(path)
    await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_schema_version()
    conn.close()
    # Reopening applies nothing and keeps data.
    store = await Store.open(path)
    async with store.db.reader.execute("PRAGMA foreign_keys") as cursor:
        assert (await cursor.fetchone()) == (1,)
    await store.close()


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    await (await Store.open(path)).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_schema_version() + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError, match="newer digestbot"):
        await Store.open(path)


async def test_someone_elses_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    with pytest.raises(ForeignDatabaseError, match="another application"):
        await Store.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


async def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "t.db")
    feed_id = await add_feed(store)
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as tx:
            await save_items(tx, feed_id, [make_item("a", "Title", "text")], now=1)
            raise RuntimeError("crash mid-write")
    assert await store.items.count() == 0
    async with store.db.reader.execute("SELECT count(*) FROM items_fts") as cursor:
        assert (await cursor.fetchone()) == (0,)
    await store.close()


async def test_concurrent_writers_are_serialized(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "c.db")
    feed_id = await add_feed(store)

    async def write(n: int) -> None:
        async with store.db.transaction() as tx:
            await save_items(tx, feed_id, [make_item(f"i{n}", f"T{n}", f"body {n}")], now=n)

    await asyncio.gather(*(write(n) for n in range(50)))
    assert await store.items.count(feed_id) == 50
    await store.close()


async def test_save_twice_adds_nothing_and_edit_updates(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    feed_id = await add_feed(store)
    batch = [make_item("a", "Alpha", "first text"), make_item("b", "Beta", "second text")]
    async with store.db.transaction() as tx:
        first = await save_items(tx, feed_id, batch, now=1)
    async with store.db.transaction() as tx:
        again = await save_items(tx, feed_id, batch, now=2)
    assert len(first.new_ids) == 2
    assert (again.new_ids, again.updated_ids, again.unchanged) == ([], [], 2)
    edited = make_item("a", "Alpha", "rewritten zebra text")
    async with store.db.transaction() as tx:
        edit = await save_items(tx, feed_id, [edited], now=3)
    assert edit.new_ids == [] and len(edit.updated_ids) == 1
    assert await store.items.count() == 2
    assert await store.items.match_ids('"zebra"') == edit.updated_ids
    assert await store.items.match_ids('"first"') == []
    await store.close()


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("500円で自動更新します", "自動更新"),
        ("The AI newsletter", "AI"),
        ("Tülu 3 is out", "tulu"),
        ("Tulu 3 is out", "Tülu"),
    ],
)
async def test_fts_finds_cjk_inside_runs_short_terms_and_folded_diacritics(
    tmp_path: Path, text: str, query: str
) -> None:
    store = await Store.open(tmp_path / "f.db")
    feed_id = await add_feed(store)
    async with store.db.transaction() as tx:
        saved = await save_items(
            tx, feed_id, [make_item("x", "Post", text), make_item("y", "Other", "nothing")], now=1
        )
    phrase = '"' + " ".join(space_cjk(query).split()) + '"'
    try:
        # Items are stored oldest first: "x" (listed first, newest) gets the last id.
        assert await store.items.match_ids(phrase) == saved.new_ids[-1:]
    finally:
        await store.close()


async def test_a_failed_commit_leaves_the_writer_usable(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "commit.db")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            async with store.db.transaction() as tx:
                # Foreign keys checked at COMMIT: the COMMIT itself fails.
                await tx.execute("PRAGMA defer_foreign_keys = ON")
                await save_items(tx, 999, [make_item("orphan", "Orphan", "no such feed")], now=1)
        feed_id = await add_feed(store)  # a new write transaction works
        assert (await store.feeds.get(feed_id)) is not None
        assert await store.items.count() == 0
    finally:
        await store.close()
