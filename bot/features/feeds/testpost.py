"""`/feed test`: post a feed's newest item to a channel now, exactly as a real post.

The test post is an ordinary item delivery of the channel's subscription, so it goes through
the same composer (render, the gate, the mention rule), the same sender and the channel's
order. It is queued under a key of its own (bot.store.deliveries.queue_test_post): the real
post of that item is queued, collected into a digest and sent as if no test had been made.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.features.feeds.filters import check_filters
from bot.features.posts.mention import post_mention
from bot.i18n import _
from bot.model import GuildFeed, ItemRow, Message, SubscriptionRow
from bot.safe import shown
from bot.store import Store


@dataclass(frozen=True, slots=True)
class QueuedTestPost:
    feed: GuildFeed
    item: ItemRow | None  # None: the feed has no items yet (nothing was posted)
    pinged_role_id: int | None  # the role the test post pings (the subscription's rule)
    # What the channel's filter would have done with the item, in words (None: no filter).
    filter_note: str | None = None


async def queue_test_post(
    store: Store, found: GuildFeed, subscription: SubscriptionRow, request: str, now: float
) -> QueuedTestPost:
    """Queue the post of the feed's newest item to the subscription's channel. `request`
    identifies the request: repeating it posts nothing more."""
    newest = await store.items.latest([found.feed_id], 1)
    if not newest:
        return QueuedTestPost(found, None, None)
    item = newest[0]
    when = await store.subscriptions.mention_when(subscription.id)
    role = await post_mention(store, item.id, subscription.mention_role_id, when)
    await store.deliveries.queue_test_post(subscription, item.id, request, now)
    return QueuedTestPost(found, item, role, await _filter_note(store, subscription, item.id))


async def _filter_note(store: Store, subscription: SubscriptionRow, item_id: int) -> str | None:
    text = await store.items.text(item_id)
    if subscription.filter is None or text is None:
        return None
    (rule,) = check_filters([subscription.filter], text)
    if rule is None:
        return _("The channel's filter lets this item through: it would be posted.")
    return _(
        "The channel's filter holds this item back ({rule}): it would not be posted.",
        rule=shown(rule),
    )


def render_test_post(post: QueuedTestPost, *, channel: str) -> Message:
    feed = f"**{shown(post.feed.title or post.feed.url)}**"
    if post.item is None:
        return Message(
            content=_("{feed} has no items yet, so there is nothing to post.", feed=feed)
        )
    untitled = _("(untitled)")
    # TRANSLATORS: whom a test post pings: nobody.
    ping = _("no one") if post.pinged_role_id is None else f"<@&{post.pinged_role_id}>"
    lines = [
        "🧪 "
        + _(
            "Posting the newest item of {feed}, **{title}**, in {channel} now, exactly as a "
            "real post (it pings {ping}). Its regular post, if it has one coming, is not "
            "affected.",
            feed=feed,
            title=shown(post.item.title) or untitled,
            channel=channel,
            ping=ping,
        )
    ]
    if post.filter_note is not None:
        lines.append(post.filter_note)
    return Message(content="\n".join(lines))
