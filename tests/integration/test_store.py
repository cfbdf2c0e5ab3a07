"""The SQLite store: pragmas, migrations, refusals, serialized writes, the FTS index."""

from __future__ import annotations

import asyncio
import sqlite3
import time
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
from tests.integration.search_fixtures import index_matches


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
        content_text=text,
        summary=summary or text[:50],
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


async def test_concurrent_writers_are_serialized(store_target: str) -> None:
    store = await Store.open(store_target)
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
    assert await index_matches(store.db, '"zebra"') == edit.updated_ids
    assert await index_matches(store.db, '"first"') == []
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
        assert await index_matches(store.db, phrase) == saved.new_ids[-1:]
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


def _fts_sound(path: Path) -> list[tuple[int, ...]]:
    """Raises unless the external-content index matches the items exactly (FTS5's own
    integrity-check with rank 1 compares every indexed token with the content table)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
        return conn.execute(
            "SELECT rowid FROM items_fts WHERE items_fts MATCH ? ORDER BY rowid",
            (space_cjk("更新"),),
        ).fetchall()
    finally:
        conn.close()


async def test_the_index_follows_inserts_edits_prunes_and_feed_deletes(tmp_path: Path) -> None:
    from bot.store.maintenance import prune

    path = tmp_path / "fts.db"
    store = await Store.open(path)
    feed_a = await add_feed(store, "https://a.example/feed")
    feed_b = await add_feed(store, "https://b.example/feed")
    async with store.db.transaction() as tx:
        await save_items(tx, feed_a, [make_item("a1", "自動更新の話", "本文で自動更新")], now=1)
        await save_items(tx, feed_a, [make_item("a2", "Other", "nothing here")], now=1)
        await save_items(tx, feed_b, [make_item("b1", "B", "また更新した")], now=1)
    assert _fts_sound(path) == [(1,), (3,)]
    async with store.db.transaction() as tx:  # edits: a2 gains the word, b1 loses it
        await save_items(tx, feed_a, [make_item("a2", "Other", "今日も更新")], now=2)
        await save_items(tx, feed_b, [make_item("b1", "B", "変わらない")], now=2)
    assert _fts_sound(path) == [(1,), (2,)]
    await store.db.write(
        "DELETE FROM feeds WHERE id = ?", (feed_a,)
    )  # items go by ON DELETE CASCADE: their rows must too
    assert _fts_sound(path) == []
    assert await prune(store.db, time.time() + 10) == 1
    assert _fts_sound(path) == []
    async with store.db.reader.execute("SELECT count(*) FROM items") as cursor:
        assert (await cursor.fetchone()) == (0,)
    await store.close()


async def test_migration_0009_keeps_an_old_archive_searchable_and_drops_unread_columns(
    tmp_path: Path,
) -> None:
    from bot.store.db import load_migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, _name, sql in load_migrations():
        if number < 9:
            conn.executescript(sql)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 8")
    conn.execute(
        "INSERT INTO feeds (id, url, interval_s, next_poll_at, created_at) "
        "VALUES (1, 'https://a.example/feed', 900, 0, 0)"
    )
    for item_id, title, text in ((1, "自動更新の話", "本文で自動更新します"), (2, "Café", "plain")):
        conn.execute(
            "INSERT INTO items (id, feed_id, stable_id, raw_hash, content_hash, title, "
            "published_at, first_seen_at, content_md, content_text, summary, keywords) "
            "VALUES (?, 1, ?, 'r', 'c', ?, 0, 0, 'md', ?, 'sum', 'k')",
            (item_id, f"s{item_id}", title, text),
        )
        conn.execute(
            "INSERT INTO items_fts (rowid, title, summary, text) VALUES (?, ?, 'sum', ?)",
            (item_id, space_cjk(title), space_cjk(text)),
        )
    conn.close()

    store = await Store.open(path)
    await store.close()
    conn = sqlite3.connect(path)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
    assert "content_md" not in columns and "keywords" not in columns
    assert conn.execute("SELECT title, fts_title FROM items ORDER BY id").fetchall() == [
        ("自動更新の話", space_cjk("自動更新の話")),
        ("Café", None),
    ]
    snippet = conn.execute(
        "SELECT snippet(items_fts, 2, '[', ']', '…', 8) FROM items_fts WHERE items_fts MATCH ?",
        (space_cjk("更新"),),
    ).fetchall()
    assert snippet == [(" 本  文  で  自  動  [更]  [新]  し…",)]  # as search reads it
    conn.close()
    assert _fts_sound(path) == [(1,)]
