"""Who a post appears to be from: the bot (no identity), or, with `/feed identity
mode:webhook`, the feed itself through the channel's webhook: the admin's name, else the
feed's title, and the admin's avatar, else the feed's own image. Feed titles are hostile
text: the name is made one Discord accepts."""

from __future__ import annotations

from bot.i18n import N_, _
from bot.model import Identity, ItemView
from bot.safe import safe_url, webhook_name
from bot.store import Store

#: The name a post shows when neither the admin's name nor the feed's title is usable.
FALLBACK_NAME = N_("News feed")


def resolve_identity(setting: Identity, feed_title: str, feed_image: str | None = None) -> Identity:
    """The name and avatar a webhook post shows, from the subscription's setting (else the
    feed's title and image)."""
    name = webhook_name(setting.name or feed_title, _(FALLBACK_NAME))
    return Identity(name=name, avatar_url=safe_url(setting.avatar_url or feed_image))


async def post_identity(store: Store, subscription_id: int, item: ItemView) -> Identity | None:
    """The identity a post of `item` for the subscription goes out under (None: as the bot)."""
    setting = await store.webhooks.identity(subscription_id)
    if setting is None:
        return None
    return resolve_identity(setting, item.feed_title, await store.feeds.image_url(item.feed_id))
