"""The post a subscription's channel gets for one item, in the subscription's format: what the
outbox sends and what `/feed preview` shows are made here, by the same call."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.features.posts.format import needs_excerpt, render_formatted
from bot.features.posts.identity import post_identity
from bot.features.posts.related_line import post_related
from bot.features.posts.views import item_view
from bot.model import ItemView, Message
from bot.store import Store
from bot.text.excerpt import excerpt_markdown


async def subscription_post(
    store: Store,
    subscription_id: int,
    item: ItemView,
    *,
    mention_role_id: int | None,
    guild_id: int | None,
) -> Message:
    """The item's post for the subscription, in its format and under its identity (the bot,
    or the feed's own name and avatar); `{excerpt}` is made now, in a worker thread."""
    post_format = await store.subscriptions.post_format(subscription_id)
    excerpt = ""
    if needs_excerpt(post_format):
        html = await store.items.opening_html(item.item_id)
        excerpt = await asyncio.to_thread(excerpt_markdown, html, item.url or item.site_url)
    related = (
        [item_view(row) for row in await post_related(store, item.item_id, guild_id)]
        if post_format.style == "card"  # the Related line is part of the card
        else []
    )
    post = render_formatted(
        item, post_format, excerpt=excerpt, mention_role_id=mention_role_id, related=related
    )
    identity = await post_identity(store, subscription_id, item)
    return post if identity is None else replace(post, identity=identity)
