"""/search's newest-candidates plan where matches are sparse, on both backends (PostgreSQL finds
them window by window of ids), and the tsquery written into PostgreSQL's SQL as a literal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.search.query import parse_query
from bot.store import Store
from bot.store import search as search_module
from bot.store.db import Backend, scalar
from bot.store.pgsearch import _lexeme, tsquery_sql
from bot.store.search import search_items
from tests.integration.search_fixtures import add_feed, add_items, make_item


@pytest.fixture
async def db(store_target: str) -> AsyncIterator[Backend]:
    database = (await Store.open(store_target)).db
    yield database
    await database.close()


async def _all_hits(db: Backend, text: str, feeds: list[int]) -> tuple[list[int], int]:
    """Every hit over all pages, and the page's window."""
    query = parse_query(text)
    assert query is not None
    seen: list[int] = []
    offset = 0
    while True:
        page = await search_items(db, query, feed_ids=feeds, limit=10, offset=offset)
        seen += [hit.item_id for hit in page.hits]
        if not page.has_more:
            return seen, page.window
        offset += 10


async def test_newest_candidates_when_matches_are_sparse_and_old(
    db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old matches, a long newest stretch without any, another guild's matches in between:
    the candidates are exactly the newest matches of the guild's feed."""
    monkeypatch.setattr(search_module, "RANK_ALL", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 12)
    monkeypatch.setattr(search_module, "MIN_CANDIDATES", 12)
    ours = await add_feed(db, "ours")
    theirs = await add_feed(db, "theirs")
    old = await add_items(
        db,
        ours,
        [make_item(f"o{i}", f"Old {i}", "mango season" if i % 3 else "pears") for i in range(60)],
    )
    await add_items(db, theirs, [make_item(f"t{i}", f"Theirs {i}", "mango") for i in range(30)])
    await add_items(db, ours, [make_item(f"n{i}", f"New {i}", "nothing here") for i in range(150)])
    matching = [item_id for i, item_id in enumerate(old) if i % 3]
    hits, window = await _all_hits(db, "mango", [ours])
    assert window == 12
    assert sorted(hits) == sorted(matching[-12:])


async def test_fewer_matches_in_scope_than_candidates_are_all_found(
    db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many matches in the archive, few in the guild's feeds: the walk reaches the oldest item
    and ranks every one of them (an exact total)."""
    monkeypatch.setattr(search_module, "RANK_ALL", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 50)
    monkeypatch.setattr(search_module, "MIN_CANDIDATES", 50)
    ours = await add_feed(db, "ours")
    theirs = await add_feed(db, "theirs")
    first = await add_items(db, ours, [make_item("first", "First", "mango")])
    await add_items(db, theirs, [make_item(f"t{i}", f"Theirs {i}", "mango") for i in range(80)])
    last = await add_items(db, ours, [make_item("last", "Last", "mango")])
    query = parse_query("mango")
    assert query is not None
    page = await search_items(db, query, feed_ids=[ours])
    assert not page.recent_only and page.total == 2
    assert sorted(hit.item_id for hit in page.hits) == sorted(first + last)


@pytest.mark.parametrize(
    "token",
    ["it's", "o''brien", "back\\slash", "end\\", "$1 ? :name --", "'; DROP TABLE items; --"],
)
async def test_tsquery_literal_reads_as_the_parameter_would(pg_url: str, token: str) -> None:
    """Whatever a lexeme holds, the SQL literal (run through the store's reader, which
    rewrites `?` and `:name` parameters) is the very tsquery the bound parameter gives."""
    text = f"{_lexeme(token)} & !{_lexeme('x')}"
    store = await Store.open(pg_url)
    try:
        given = await scalar(store.db.reader, "SELECT CAST(CAST(? AS tsquery) AS text)", (text,))
        written = await scalar(store.db.reader, f"SELECT CAST({tsquery_sql(text)} AS text)")
    finally:
        await store.close()
    assert written == given
