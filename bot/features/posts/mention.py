"""Which role a post pings: the one its subscription opted into, when the post matches the
subscription's `when` query (`/feed mention`); otherwise none."""

from __future__ import annotations

from bot.search.matcher import ItemTokens
from bot.search.query import parse_query
from bot.store import Store


async def post_mention(
    store: Store, item_id: int, role_id: int | None, when: str | None
) -> int | None:
    """The role a post of the item pings (None: the post pings nobody). With a `when` query
    the role is pinged only when the item matches it exactly as `/search` would (its title,
    summary and text); a query that cannot match anything never pings."""
    if role_id is None or when is None:
        return role_id
    query = parse_query(when)
    if query is None or query.problem is not None:
        return None
    item = await store.items.text(item_id)
    if item is None:
        return None
    return role_id if ItemTokens((item.title, item.summary, item.text)).matches(query) else None
