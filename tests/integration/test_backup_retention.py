"""Backups taken while items are written are consistent and sound; retention prunes old items
but keeps tombstones, so a pruned item that reappears in its feed is never stored or posted."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import FetchAllowList, Settings
from bot.features.feeds.service import FeedService
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.model import EnrichedItem, Entry
from bot.ops.backup import cmd_backup, cmd_prune, prune_expired
from bot.scheduler import JobScheduler
from bot.store import Store
from bot.store.db import latest_schema_version
from bot.store.items import FreshItem, save_items
from bot.store.maintenance import backup_file, integrity_check, prune
from bot.store.postgres import is_postgres
from tests.deliveryfakes import until
from tests.feedserver import FeedServer, rss_feed, without_validators


def fresh(n: int, published: datetime | None = None) -> FreshItem:
    text = f"Body of item {n}. " * 120
    entry = Entry(
        stable_id=f"id-{n}",
        title=f"Item {n}",
        url=f"https://example.com/{n}",
        author=None,
        published=published or datetime(2024, 1, 1, tzinfo=UTC),
        content_html=f"<p>{text}</p>",
        description_html="",
    )
    return FreshItem(EnrichedItem(entry, text, text[:100], None, f"c{n}"), f"r{n}")


def snapshot(path: Path) -> tuple[int, int, int, str]:
    """(items, index rows, schema version, journal mode) of a backup file."""
    conn = sqlite3.connect(path)
    try:
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        indexed = conn.execute("SELECT count(*) FROM items_fts").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    return items, indexed, version, mode


async def test_backups_taken_while_items_are_written_are_sound(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
    feed = await store.feeds.add("https://example.com/f", interval_s=900, now=0, first_poll_at=0)
    async with store.db.transaction() as tx:
        await save_items(tx, feed.id, [fresh(n) for n in range(1500)], now=1.0)
    written = 1500
    stop = asyncio.Event()

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            batch = [fresh(n) for n in range(written, written + 20)]
            async with store.db.transaction() as tx:
                await save_items(tx, feed.id, batch, now=2.0)
            written += len(batch)
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    copies: list[tuple[Path, int, int]] = []
    try:
        for n in range(6):
            before = written
            dest = tmp_path / f"copy-{n}.db"
            result = await asyncio.to_thread(backup_file, store.db.path, dest)
            copies.append((dest, before, written))
            assert result.path == dest and result.size_bytes == dest.stat().st_size
    finally:
        stop.set()
        await task
    assert any(after > before for _, before, after in copies), "writes ran during backups"
    for dest, before, after in copies:
        assert integrity_check(dest) == []
        items, indexed, version, mode = snapshot(dest)
        assert before <= items <= after  # a moment in between, never a torn write
        assert items % 20 == 0 and items == indexed  # whole transactions only
        assert version == latest_schema_version()
        assert mode == "delete"  # one self-contained file, no -wal needed
        assert not dest.with_name(dest.name + ".partial").exists()
    await store.close()


async def test_backup_command_names_files_refuses_overwrites_and_checks_the_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / "bot.db"
    store = await Store.open(db_path)
    feed = await store.feeds.add("https://example.com/f", interval_s=900, now=0, first_poll_at=0)
    async with store.db.transaction() as tx:
        await save_items(tx, feed.id, [fresh(n) for n in range(10)], now=1.0)
    settings = Settings(db_path=db_path)
    folder = tmp_path / "backups"
    folder.mkdir()
    assert await cmd_backup(settings, folder) == 0  # while the store is open
    made = list(folder.iterdir())
    assert len(made) == 1 and made[0].name.startswith("digestbot-")
    assert snapshot(made[0])[0] == 10
    assert "integrity check passed" in capsys.readouterr().out
    target = tmp_path / "nightly.db"
    assert await cmd_backup(settings, target) == 0
    assert await cmd_backup(settings, target) == 1
    assert "already exists" in capsys.readouterr().err
    assert await cmd_backup(settings, target, overwrite=True) == 0
    assert await cmd_backup(settings, db_path, overwrite=True) == 1
    assert "is the database itself" in capsys.readouterr().err
    assert await cmd_backup(Settings(db_path=tmp_path / "none.db"), target) == 1
    await store.close()


async def test_a_pruned_item_that_reappears_is_never_stored_or_posted(
    store_target: str, feed_server: FeedServer
) -> None:
    old = [
        {
            "title": f"Old {n}",
            "link": f"https://s.example/old-{n}",
            "guid": f"old-{n}",
            "pubDate": "Mon, 01 Jan 2024 10:00:00 +0000",
        }
        for n in range(3)
    ]
    feed_server.set("/feed", rss_feed(old))
    settings = Settings(
        fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
        db_path=store_target,  # type: ignore[arg-type]  # a path or a URL, as DIGESTBOT_DB
    )
    store = await Store.open(settings.database)
    fetcher = FeedFetcher(settings)
    pipeline = FeedPipeline(store, fetcher)
    try:
        added = await FeedService(store, fetcher, pipeline, settings).add(feed_server.url("/feed"))
        await store.subscriptions.add(1, 100, added.feed.id, now=time.time())
        assert await store.items.count() == 3

        # A new item is stored and queued for the channel (routing works here).
        fresh_item = {"title": "Fresh", "link": "https://s.example/fresh", "guid": "fresh"}
        feed_server.set("/feed", rss_feed([fresh_item, *old]))
        feed = await store.feeds.get(added.feed.id)
        assert feed is not None
        outcome = await pipeline.poll(feed)
        assert len(outcome.new_item_ids) == 1
        assert (await store.deliveries.counts()).get("pending") == 1

        # Items with a delivery still waiting are kept; once sent, everything old goes.
        assert await prune(store.db, time.time() + 10) == 3
        for delivery in await store.deliveries.due(time.time() + 10, 10):
            assert await store.deliveries.mark_sending(delivery.id, time.time())
            await store.deliveries.mark_sent(delivery.id, 555, time.time())
        assert await prune(store.db, time.time() + 10) == 1
        assert await store.items.count() == 0
        if not is_postgres(store.db):  # FTS5's index rows are its own (PG: a column of items)
            async with store.db.reader.execute("SELECT count(*) FROM items_fts") as cursor:
                assert await cursor.fetchone() == (0,)

        # The feed still lists them (one edited), plus one really new item.
        edited = {**old[0], "title": "Old 0 (edited)"}
        newer = {"title": "Newer", "link": "https://s.example/newer", "guid": "newer"}
        feed_server.set("/feed", rss_feed([newer, fresh_item, edited, *old[1:]]))
        feed = await store.feeds.get(added.feed.id)
        assert feed is not None
        outcome = await pipeline.poll(without_validators(feed))
        assert outcome.error is None and len(outcome.new_item_ids) == 1
        (row,) = await store.items.many(outcome.new_item_ids)
        assert row.title == "Newer"
        assert await store.items.count() == 1
        counts = await store.deliveries.counts()
        assert counts.get("pending") == 1  # only "Newer" is queued
        # Polling again changes nothing.
        again = await pipeline.poll(without_validators(feed))
        assert again.new_item_ids == [] and again.updated_item_ids == []
    finally:
        await fetcher.close()
        await store.close()


async def test_prune_command_uses_the_setting_and_keeps_recent_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / "bot.db"
    store = await Store.open(db_path)
    feed = await store.feeds.add("https://example.com/f", interval_s=900, now=0, first_poll_at=0)
    now = time.time()
    recent = datetime.fromtimestamp(now - 3 * 86400, UTC)
    async with store.db.transaction() as tx:
        await save_items(tx, feed.id, [fresh(n) for n in range(5)], now=now - 40 * 86400)
        await save_items(tx, feed.id, [fresh(n, recent) for n in range(5, 8)], now=now - 3 * 86400)
        # Published long ago but first seen yesterday: kept (it was just archived).
        await save_items(tx, feed.id, [fresh(8)], now=now - 86400)
    await store.close()
    assert await cmd_prune(Settings(db_path=db_path), None) == 2
    assert "DIGESTBOT_RETENTION_DAYS" in capsys.readouterr().err
    assert await cmd_prune(Settings(db_path=db_path, retention_days=30), None) == 0
    pruned = capsys.readouterr().out
    assert "Pruned 5 items stored and published more than 30 days ago" in pruned
    assert "age counts from when the bot stored an item" in pruned
    assert await cmd_prune(Settings(db_path=db_path, retention_days=30), 2) == 0
    assert "Pruned 3 items" in capsys.readouterr().out
    store = await Store.open(db_path)
    assert await store.items.count() == 1
    await store.close()
    # The one left was stored a day ago (before this call): a singular, in both places.
    assert await cmd_prune(Settings(db_path=db_path), 1) == 0
    pruned = capsys.readouterr().out
    assert "Pruned 1 item stored and published more than 1 day ago" in pruned
    assert "its id is kept" in pruned


async def test_retention_prunes_at_start_and_on_its_schedule(tmp_path: Path) -> None:
    """The runtime's retention job: once at start, then on the one JobScheduler."""
    store = await Store.open(tmp_path / "bot.db")
    feed = await store.feeds.add("https://example.com/f", interval_s=900, now=0, first_poll_at=0)
    now = [time.time() + 1000 * 86400.0]  # later than every publication date here
    async with store.db.transaction() as tx:
        await save_items(tx, feed.id, [fresh(n) for n in range(4)], now=now[0] - 10 * 86400)

    async def prune() -> None:
        await prune_expired(store.db, 7, now[0])

    scheduler = JobScheduler()
    scheduler.at("retention:start", datetime.now(UTC), prune)
    scheduler.every("retention", 0.05, prune)
    scheduler.start()
    try:
        await until(lambda: items_left(store, 0), what="the start-up prune")
        async with store.db.transaction() as tx:
            await save_items(tx, feed.id, [fresh(9)], now=now[0])
        assert await store.items.count() == 1  # a fresh item stays
        now[0] += 8 * 86400  # a week later the job prunes the new one too
        await until(lambda: items_left(store, 0), what="the scheduled prune")
    finally:
        await scheduler.shutdown()
        await store.close()


async def items_left(store: Store, count: int) -> bool:
    return await store.items.count() == count
