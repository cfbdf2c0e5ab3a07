"""`digestbot migrate-to`: an SQLite archive copied into PostgreSQL, nothing lost or re-posted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.ops.cli import cmd_migrate_to
from bot.search.query import parse_query
from bot.store import Store
from bot.store.search import search_items
from bot.store.transfer import TABLES
from tests.deliveryfakes import FakeTime, RecordingSender, add_polled_feed, make_outbox, poll_items

GUILD = 111_111_111_111_111_111
CH_A = 900_000_000_000_000_001
CH_B = 900_000_000_000_000_002


async def _counts(store: Store) -> dict[str, int]:
    found = {}
    for table in TABLES:
        rows = list(await store.db.reader.execute_fetchall(f"SELECT count(*) FROM {table}"))
        found[table] = int(rows[0][0])
    return found


async def _archive(path: Path) -> dict[str, int]:
    """An SQLite archive with feeds, items, subscriptions, a topic, a schedule, posts already
    sent and posts still pending."""
    store = await Store.open(path)
    try:
        feed = await add_polled_feed(store, "https://a.example/feed")
        await store.subscriptions.add(GUILD, CH_A, feed, now=1)
        await poll_items(store, feed, ["a-2", "a-1"], now=10)
        time = FakeTime()
        sent = RecordingSender()
        assert await make_outbox(store, sent, clock=time.clock, sleep=time.sleep).drain() == 2
        await store.subscriptions.add(GUILD, CH_B, feed, now=20)
        await poll_items(store, feed, ["a-4", "a-3", "a-2", "a-1"], now=30)  # pending: 4
        await store.topics.add(GUILD, 5, "a-3", "a-3", now=31)
        counts = await _counts(store)
    finally:
        await store.close()
    assert counts["deliveries"] == 6 and counts["items"] == 4 and counts["topics"] == 1
    return counts


async def test_migrate_to_copies_everything_and_pending_posts_go_out_once(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.db"
    before = await _archive(path)
    assert await cmd_migrate_to(Settings(db_path=path), pg_url) == 0
    report = capsys.readouterr().out
    assert "deliveries" in report and "Copied" in report

    store = await Store.open(pg_url)
    try:
        assert await _counts(store) == before
        time = FakeTime()
        sender = RecordingSender()
        assert await make_outbox(store, sender, clock=time.clock, sleep=time.sleep).drain() == 4
        assert sender.titles_for(CH_A) == ["Post a-3", "Post a-4"]
        assert sender.titles_for(CH_B) == ["Post a-3", "Post a-4"]
        # The same items polled again on PostgreSQL: nothing new, nothing posted again; a new
        # item gets a fresh id (the identity counters continue after the copied ids).
        feed = (await store.feeds.all())[0].id
        again = await poll_items(store, feed, ["a-5", "a-4", "a-3", "a-2", "a-1"], now=50)
        assert len(again.new_ids) == 1 and again.new_ids[0] > 4
        assert await make_outbox(store, sender, clock=time.clock, sleep=time.sleep).drain() == 2
        assert sender.titles_for(CH_A) == ["Post a-3", "Post a-4", "Post a-5"]
        query = parse_query("post")
        assert query is not None
        page = await search_items(store.db, query, feed_ids=[feed])
        assert page.total == 5  # the copied items are in the search index
    finally:
        await store.close()


async def test_migrate_to_refuses_a_database_holding_data(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bot.db"
    await _archive(path)
    assert await cmd_migrate_to(Settings(db_path=path), pg_url) == 0
    capsys.readouterr()
    with pytest.raises(Exception, match="already holds digestbot data"):
        await cmd_migrate_to(Settings(db_path=path), pg_url)
    store = await Store.open(pg_url)
    try:
        assert (await _counts(store))["items"] == 4  # nothing copied twice
    finally:
        await store.close()
