"""A conditional ping (`/feed mention … when:`) fires exactly for the posts `/search` with the
same words returns: the cases of test_follow_search_agree, read back from the real archive."""

from __future__ import annotations

import pytest

from bot.features.posts.mention import post_mention
from bot.search.query import parse_query
from bot.store import Store
from bot.store.search import search_items
from tests.integration.search_fixtures import add_feed, add_items, make_item
from tests.integration.test_follow_search_agree import CASES

ROLE = 1234


@pytest.mark.parametrize(("when", "items"), CASES, ids=[c[0] for c in CASES])
async def test_a_post_pings_exactly_when_search_finds_it(
    store_target: str, when: str, items: list[tuple[str, str, str, bool]]
) -> None:
    store = await Store.open(store_target)
    try:
        feed = await add_feed(store.db, "agree")
        fresh = [
            make_item(f"i{n}", title, text, summary=summary)
            for n, (title, summary, text, _) in enumerate(items)
        ]
        ids = await add_items(store.db, feed, fresh)
        query = parse_query(when)
        assert query is not None
        found = await search_items(store.db, query, feed_ids=[feed], limit=25)
        pinged = {i for i in ids if await post_mention(store, i, ROLE, when) == ROLE}
        assert pinged == {hit.item_id for hit in found.hits}
        assert pinged == {i for i, case in zip(ids, items, strict=True) if case[3]}
    finally:
        await store.close()


async def test_no_condition_pings_every_post_and_an_unusable_one_none(store_target: str) -> None:
    store = await Store.open(store_target)
    try:
        feed = await add_feed(store.db, "plain")
        (item,) = await add_items(store.db, feed, [make_item("a", "Release day", "notes")])
        assert await post_mention(store, item, ROLE, None) == ROLE
        assert await post_mention(store, item, None, "release") is None
        assert await post_mention(store, item, ROLE, "-release") is None
        assert await post_mention(store, item, ROLE, "…") is None
    finally:
        await store.close()
