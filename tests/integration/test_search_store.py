"""/search over a real SQLite archive: meaning of the syntax, scoping, filters, paging, snippets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.search.query import QueryProblem, parse_query
from bot.store import search as search_module
from bot.store.db import Database
from bot.store.search import SearchPage, format_snippet, search_items
from tests.integration.search_fixtures import NOW, add_feed, add_items, make_item


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "search.db")
    yield database
    await database.close()


async def _search(db: Database, text: str, feeds: list[int], **kw: object) -> SearchPage:
    query = parse_query(text)
    assert query is not None, text
    return await search_items(db, query, feed_ids=feeds, **kw)  # type: ignore[arg-type]


def _titles(page: SearchPage) -> set[str]:
    return {h.title for h in page.hits}


async def test_words_phrases_exclusion_or(db: Database) -> None:
    feed = await add_feed(db, "alpha")
    await add_items(
        db,
        feed,
        [
            make_item("1", "Open weight models arrive", "Meta released open weight models."),
            make_item("2", "Weight of the open sea", "The open ocean has great weight."),
            make_item("3", "Closed models", "No open weights here, only an API."),
            make_item("4", "Llama news", "Llama is an open weight model family."),
        ],
    )
    words = await _search(db, "open weight", [feed])
    assert _titles(words) == {"Open weight models arrive", "Weight of the open sea", "Llama news"}
    phrase = await _search(db, '"open weight"', [feed])
    assert _titles(phrase) == {"Open weight models arrive", "Llama news"}
    excluded = await _search(db, '"open weight" -llama', [feed])
    assert _titles(excluded) == {"Open weight models arrive"}
    either = await _search(db, "sea OR api", [feed])
    assert _titles(either) == {"Weight of the open sea", "Closed models"}
    assert either.total == 2 and not either.has_more


async def test_title_ranks_above_body(db: Database) -> None:
    feed = await add_feed(db, "rank")
    await add_items(
        db,
        feed,
        [
            make_item("body", "Weekly roundup", "Lots of things, one of them about quantum chips."),
            make_item("title", "Quantum computing explained", "A long explainer about qubits."),
        ],
    )
    page = await _search(db, "quantum", [feed])
    assert [h.title for h in page.hits] == ["Quantum computing explained", "Weekly roundup"]


async def test_only_given_feeds_are_searched(db: Database) -> None:
    mine = await add_feed(db, "mine")
    theirs = await add_feed(db, "theirs")
    await add_items(db, mine, [make_item("m", "Shared word zebra", "zebra in my feed")])
    await add_items(db, theirs, [make_item("t", "Secret zebra", "zebra in their feed")])
    page = await _search(db, "zebra", [mine])
    assert _titles(page) == {"Shared word zebra"}
    assert {h.feed_id for h in page.hits} == {mine}
    assert (await _search(db, "secret", [mine])).hits == []
    assert (await _search(db, "zebra", [])).hits == []


async def test_since_and_author_filters(db: Database) -> None:
    feed = await add_feed(db, "filters")
    await add_items(
        db,
        feed,
        [
            make_item("old", "Old rust post", "rust", author="Ann Lee", published=NOW - 30 * 86400),
            make_item("new", "New rust post", "rust", author="Bob Stone", published=NOW - 86400),
        ],
    )
    recent = await _search(db, "rust", [feed], since=NOW - 7 * 86400)
    assert _titles(recent) == {"New rust post"}
    by_ann = await _search(db, "rust", [feed], author="ann")
    assert _titles(by_ann) == {"Old rust post"}
    assert (await _search(db, "rust", [feed], author="100%_")).hits == []


async def test_paging(db: Database) -> None:
    feed = await add_feed(db, "paging")
    items = [
        make_item(f"p{i}", f"Paging post {i}", "kiwi " * (i + 1), published=NOW + i)
        for i in range(23)
    ]
    await add_items(db, feed, items)
    seen: list[int] = []
    offset = 0
    while True:
        page = await _search(db, "kiwi", [feed], limit=10, offset=offset)
        seen += [h.item_id for h in page.hits]
        assert page.total == 23
        if not page.has_more:
            break
        offset += 10
    assert len(seen) == 23 and len(set(seen)) == 23
    assert offset == 20


async def test_many_matches_rank_the_newest_candidates(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "RANK_ALL", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 8)
    feed = await add_feed(db, "common")
    ids = await add_items(
        db, feed, [make_item(f"c{i}", f"Common {i}", "mango everywhere") for i in range(20)]
    )
    page = await _search(db, "mango", [feed], limit=5)
    assert page.recent_only and page.total is None and page.has_more
    assert {h.item_id for h in page.hits} <= set(ids[-8:])
    last = await _search(db, "mango", [feed], limit=5, offset=5)
    assert not last.has_more and len(last.hits) == 3


async def test_japanese_inside_runs_diacritics_and_ai(db: Database) -> None:
    feed = await add_feed(db, "mixed")
    await add_items(
        db,
        feed,
        [
            make_item("jp", "お知らせ", "プランは500円で自動更新します。"),
            make_item("tulu", "Tülu 3 is out", "AllenAI released Tülu."),
            make_item("ai", "AI policy", "He said the AI act passed."),
            make_item("said", "Nothing", "She said hello."),
        ],
    )
    jp = await _search(db, "自動更新", [feed])
    assert _titles(jp) == {"お知らせ"}
    assert "**自動更新**" in jp.hits[0].snippet
    assert "自 動" not in jp.hits[0].snippet
    assert _titles(await _search(db, "tulu", [feed])) == {"Tülu 3 is out"}
    assert _titles(await _search(db, "TÜLU", [feed])) == {"Tülu 3 is out"}
    assert _titles(await _search(db, "AI", [feed])) == {"AI policy"}


@pytest.mark.parametrize(
    "text",
    ['"', "*", "NEAR(", "a OR", "-", "x" * 2000, "🎉", "a\x00b", "title:foo", "(", "^", "AND"],
)
async def test_hostile_queries_never_raise(db: Database, text: str) -> None:
    feed = await add_feed(db, "hostile")
    await add_items(db, feed, [make_item("h", "A near title", "a foo and b")])
    query = parse_query(text)
    if query is None:
        return  # the caller says "no searchable words"
    page = await search_items(db, query, feed_ids=[feed])
    assert page.problem is None
    assert isinstance(page.hits, list)


async def test_hostile_queries_find_plain_words(db: Database) -> None:
    feed = await add_feed(db, "plain")
    await add_items(db, feed, [make_item("n", "NEAR the shore", "stars * and ^ carets")])
    assert len((await _search(db, "NEAR(", [feed])).hits) == 1
    assert len((await _search(db, "shore OR", [feed])).hits) == 1
    assert len((await _search(db, 'stars "', [feed])).hits) == 1


async def test_only_exclusions_is_a_clear_problem(db: Database) -> None:
    feed = await add_feed(db, "excl")
    page = await _search(db, "-spam", [feed])
    assert page.problem is QueryProblem.ONLY_EXCLUSIONS and page.hits == []


async def test_snippet_escapes_feed_markdown_but_bolds_matches(db: Database) -> None:
    feed = await add_feed(db, "md")
    await add_items(
        db, feed, [make_item("md", "Markdown", "Use *stars* and @everyone to see the banana.")]
    )
    page = await _search(db, "banana", [feed])
    snippet = page.hits[0].snippet
    assert "**banana**" in snippet
    assert "\\*stars\\*" in snippet
    assert "@everyone" not in snippet


def test_format_snippet_handles_markers() -> None:
    assert format_snippet("a \x02b\x03 c") == "a **b** c"
    assert format_snippet("で \x02自 動\x03 し") == "で**自動**し"
    assert format_snippet("x_y \x02z\x03") == "x\\_y **z**"
