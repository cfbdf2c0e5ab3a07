"""Related items on a generated archive with known topic clusters (real SQLite, real FTS5)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from bot.features.posts.related_line import POST_RELATED, post_related
from bot.features.related.service import RelatedService
from bot.features.why.service import WhyService
from bot.store import Store
from tests.integration.related_fixtures import TOPICS, archive, outlier_item, topic_item
from tests.integration.search_fixtures import NOW, add_feed, add_items

GUILD, OTHER_GUILD = 10, 20
DAY = 86400.0


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_target)
    yield opened
    await opened.close()


async def _clustered(store: Store) -> tuple[RelatedService, dict[int, str], int]:
    """Two feeds of the guild with 20 items per topic; a feed of another guild with more."""
    rng = random.Random(16)
    topic_of: dict[int, str] = {}
    for name in ("north", "south"):
        feed = await add_feed(store.db, name)
        await store.subscriptions.add(GUILD, 1, feed, now=NOW)
        made = archive(rng, 10, NOW - 300 * DAY, 3600.0)
        ids = await add_items(store.db, feed, [g.item for g in made])
        topic_of.update(zip(ids, (g.topic for g in made), strict=True))
    elsewhere = await add_feed(store.db, "elsewhere")
    await store.subscriptions.add(OTHER_GUILD, 2, elsewhere, now=NOW)
    made = archive(rng, 10, NOW - 300 * DAY, 3600.0)
    await add_items(store.db, elsewhere, [g.item for g in made])
    return RelatedService(store, WhyService(store)), topic_of, elsewhere


async def test_related_line_names_items_of_the_new_items_cluster(store: Store) -> None:
    _, topic_of, _ = await _clustered(store)
    feed = await add_feed(store.db, "late")
    await store.subscriptions.add(GUILD, 1, feed, now=NOW)
    rng = random.Random(99)
    new = [topic_item(rng, topic, f"new-{topic}", NOW) for topic in TOPICS]
    new_ids = await add_items(store.db, feed, new)
    right = shown = 0
    for topic, item_id in zip(TOPICS, new_ids, strict=True):
        related = await post_related(store, item_id, GUILD)
        assert len(related) <= POST_RELATED
        # Only the guild's feeds, only earlier items.
        assert all(row.id in topic_of for row in related), topic
        shown += len(related)
        right += sum(topic_of[row.id] == topic for row in related)
    assert shown >= 2 * len(TOPICS)  # the clusters are found, not just avoided
    assert right / shown >= 0.8


async def test_no_related_line_when_nothing_is_close(store: Store) -> None:
    await _clustered(store)
    feed = await add_feed(store.db, "odd")
    await store.subscriptions.add(GUILD, 1, feed, now=NOW)
    [odd] = await add_items(store.db, feed, [outlier_item(random.Random(5), "odd", NOW)])
    assert await post_related(store, odd, GUILD) == []


async def test_related_view_lists_ten_of_the_guilds_archive(store: Store) -> None:
    service, topic_of, _ = await _clustered(store)
    seed = next(i for i, t in topic_of.items() if t == "chess")
    answer = await service.related(GUILD, f"item:{seed}")
    assert answer.item is not None and answer.item.id == seed
    assert len(answer.related) == 10
    assert seed not in {row.id for row in answer.related}
    assert all(topic_of.get(row.id) == "chess" for row in answer.related)
    assert [len(answer.page), len(answer.turned(1).page)] == [5, 5]
