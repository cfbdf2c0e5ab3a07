"""A followed topic matches an item exactly when /search with the same words returns it.

Each case is a query and items (title, summary, text) with the ones that must match. The same
items are stored through the real store (FTS5) and fed to the percolator; both must return the
expected set.
"""

from __future__ import annotations

import pytest

from bot.search.percolator import Percolator
from bot.search.query import parse_query
from bot.store import Store
from bot.store.search import search_items
from tests.integration.search_fixtures import add_feed, add_items, make_item

# (query, [(title, summary, text, should_match)])
CASES: list[tuple[str, list[tuple[str, str, str, bool]]]] = [
    (
        '"open weight"',
        [
            ("Open weight models", "", "", True),
            ("News", "", "The open-weight release landed.", True),
            ("News", "Open, weight and more", "", True),
            ("Weight open", "", "weight open", False),
            ("We are open", "weight loss tips", "", False),  # a phrase never spans two fields
            ("Reopen weighting", "", "", False),
        ],
    ),
    (
        "open weight models",
        [
            ("Open", "weight", "models", True),  # words may be in different fields
            ("Open weight", "", "no m-odels here", False),
        ],
    ),
    (
        "rust -game",
        [
            ("Rust 1.80 released", "", "compiler news", True),
            ("Rust the game", "", "survival", False),
            ("Rusty", "", "", False),
        ],
    ),
    (
        "rust AND compiler NOT game",
        [
            ("Rust 1.80 released", "", "compiler news", True),
            ("Rust compiler", "", "the game engine", False),
            ("Rust", "", "", False),
            ("And not", "", "rust compiler", True),
        ],
    ),
    (
        "sqlite OR postgres",
        [
            ("SQLite tips", "", "", True),
            ("", "", "Postgres 17", True),
            ("MySQL", "", "", False),
        ],
    ),
    (
        '"open source" OR oss database',
        [
            ("Open source database", "", "", True),
            ("OSS", "", "a database", True),
            ("Open database source", "", "", False),
            ("OSS news", "", "no db", False),
        ],
    ),
    (
        'model -"closed source"',
        [
            ("New model", "", "Closed beta; the source is open", True),
            ("New model", "", "It is closed source.", False),
        ],
    ),
    (
        "OpenAI",
        [("OPENAI news", "", "", True), ("openai", "", "", True), ("Open AI", "", "", False)],
    ),
    (
        "gpt-4",
        [
            ("GPT-4 launch", "", "", True),
            ("GPT 4 launch", "", "", True),
            ("gpt4 launch", "", "", False),
            ("GPT-3.5", "", "4 reasons", False),
        ],
    ),
    (
        "tülu",
        [
            ("Tülu 3", "", "", True),
            ("", "", "TULU", True),
            ("", "tulu", "", True),
            ("Tula", "", "", False),
        ],
    ),
    ("Tulu", [("Tülu 3", "", "", True), ("TÜLU", "", "", True)]),
    ("café", [("Cafe culture", "", "", True), ("CAFÉ", "", "", True), ("caff", "", "", False)]),
    (
        "自動更新",
        [
            ("お知らせ", "", "500円で自動更新します", True),
            ("自動更新について", "", "", True),
            ("お知らせ", "", "自動的に更新されます", False),
        ],
    ),
    (
        "AI",
        [
            ("AI act passes", "", "", True),
            ("News", "", "what he said", False),
            ("Tech", "", "A.I. and more", False),
            ("", "", "(ai)", True),
        ],
    ),
    ("NEAR(", [("near the coast", "", "", True), ("nearby", "", "", False)]),
    (
        "energy -solar -wind",
        [
            ("Energy policy", "", "", True),
            ("Energy", "solar", "", False),
            ("Energy", "", "wind farms", False),
        ],
    ),
]


@pytest.mark.parametrize(("query_text", "items"), CASES, ids=[c[0] for c in CASES])
async def test_follow_and_search_agree(
    store_target: str, query_text: str, items: list[tuple[str, str, str, bool]]
) -> None:
    db = (await Store.open(store_target)).db
    try:
        feed = await add_feed(db, "agree")
        fresh = [
            make_item(f"i{n}", title, text, summary=summary)
            for n, (title, summary, text, _) in enumerate(items)
        ]
        ids = await add_items(db, feed, fresh)
        expected = {item_id for item_id, case in zip(ids, items, strict=True) if case[3]}
        query = parse_query(query_text)
        assert query is not None
        page = await search_items(db, query, feed_ids=[feed], limit=25)
        found_by_search = {h.item_id for h in page.hits}
        percolator = Percolator([(1, query)])
        found_by_follow = {
            item_id
            for item_id, (title, summary, text, _) in zip(ids, items, strict=True)
            if percolator.match([title, summary, text])
        }
        assert found_by_search == expected
        assert found_by_follow == expected
    finally:
        await db.close()
