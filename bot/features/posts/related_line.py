"""Which earlier items a new post names on its "Related" line (issue 16): the closest items of
the guild's feeds by the archive's own ranking (`bot.store.related`), above a score where they
are really about the same thing: no line is better than a weak one."""

from __future__ import annotations

from bot.model import ItemRow
from bot.store import Store

POST_RELATED = 3
# Measured on the clustered archive of tests/integration/related_fixtures.py: an item's three
# closest of its own topic score 0.7–0.9, the closest of another topic (sharing a few words)
# 0.26–0.43, an unrelated item sharing two words of a topic 0.13.
POST_MIN_SCORE = 0.5


async def feed_scope(store: Store, guild_id: int | None) -> list[int]:
    """The feeds whose items may be named: the guild's (None: every feed)."""
    if guild_id is None:
        return [feed.id for feed in await store.feeds.all()]
    return await store.subscriptions.searchable_feed_ids_for_guild(guild_id)


async def rows_in_order(store: Store, item_ids: list[int]) -> list[ItemRow]:
    rows = {row.id: row for row in await store.items.many(item_ids)}
    return [rows[i] for i in item_ids if i in rows]


async def post_related(store: Store, item_id: int, guild_id: int | None) -> list[ItemRow]:
    """The earlier items of the guild's feeds a post of item `item_id` names on its Related
    line; empty when none is close enough."""
    item = await store.items.get(item_id)
    if item is None:
        return []
    scores = await store.related.related(
        item_id,
        await feed_scope(store, guild_id),
        limit=POST_RELATED,
        before=item.published_at,
        min_score=POST_MIN_SCORE,
    )
    return await rows_in_order(store, [s.item_id for s in scores])
