"""/search covers the feeds a guild follows now or followed before, never another guild's."""

from __future__ import annotations

from bot.features.search.service import SearchService
from bot.store import Store
from tests.integration.search_fixtures import NOW, add_feed, add_items, make_item


async def test_removed_feed_stays_searchable_for_its_guild_only(store_target: str) -> None:
    store = await Store.open(store_target)
    try:
        feed = await add_feed(store.db, "gone")
        await add_items(store.db, feed, [make_item("x", "Zeppelin weekly", "airships return")])
        await store.subscriptions.add(1, 10, feed, now=NOW)
        await store.subscriptions.remove(1, feed)
        service = SearchService(store, clock=lambda: NOW)

        mine = await service.search(1, "zeppelin")
        assert [hit.title for hit in mine.page.hits] == ["Zeppelin weekly"]
        assert (await service.search(2, "zeppelin")).page.hits == []
        assert await service.latest(1) == []  # /latest shows current feeds only
    finally:
        await store.close()
