"""`/feed filter`: set, show or clear a channel's filter for one feed, and try it on the feed's
newest items so the admin sees what it would have done."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.features.feeds.filters import FilterError, FilterInput, compile_filter
from bot.i18n import _
from bot.model import FeedFilter, GuildFeed, ItemText, SubscriptionRow
from bot.store import Store

PREVIEW_ITEMS = 20  # the filter is tried on this many of the feed's newest items


class ChannelNotFollowingError(LookupError):
    """The named channel does not post the feed."""


@dataclass(frozen=True, slots=True)
class FilterPreview:
    """What the filter would have done to the feed's newest items (newest first)."""

    passed: list[ItemText] = field(default_factory=list)
    held: list[tuple[ItemText, str]] = field(default_factory=list)  # the item, the rule

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.held)


@dataclass(frozen=True, slots=True)
class FilterChange:
    feed: GuildFeed
    channel_id: int
    previous: FeedFilter | None
    current: FeedFilter | None  # None: no filter, every item is posted
    preview: FilterPreview

    @property
    def changed(self) -> bool:
        return self.previous != self.current


async def channel_subscription(
    store: Store, feed: GuildFeed, channel_id: int | None, several: type[Exception]
) -> SubscriptionRow:
    """The feed's subscription in the channel (None: its only channel; `several` when it posts
    in several; ChannelNotFollowingError when not in that one)."""
    if channel_id is None:
        if len(feed.channel_ids) != 1:
            raise several(_("That feed posts in several channels: choose one with channel."))
        channel_id = feed.channel_ids[0]
    subscription = await store.subscriptions.find(channel_id, feed.feed_id)
    if subscription is None or channel_id not in feed.channel_ids:
        raise ChannelNotFollowingError(channel_id)
    return subscription


def _given(text: str | None) -> str | None:
    return (text or "").strip() or None


async def change_filter(
    store: Store,
    feed: GuildFeed,
    channel_id: int | None,
    *,
    include: str | None = None,
    exclude: str | None = None,
    pattern: str | None = None,
    clear: bool = False,
    now: float,
) -> FilterChange:
    """Parts given replace the channel's; parts left out are kept (with `clear`: dropped, so
    `clear` alone removes the filter). Nothing given: the filter is shown as it is. The new
    filter is compiled before anything is stored: FilterError names its problem and nothing
    changes. `channel_id` None: the feed's only channel in the guild (FilterError when it
    posts in several). ChannelNotFollowingError: the channel does not post the feed."""
    subscription = await channel_subscription(store, feed, channel_id, FilterError)
    previous = subscription.filter
    base = FeedFilter() if clear or previous is None else previous
    wanted = FeedFilter(
        _given(include) or base.include,
        _given(exclude) or base.exclude,
        _given(pattern) or base.pattern,
    )
    compiled = compile_filter(wanted)
    current = None if wanted.empty else wanted
    if current != previous:
        await store.subscriptions.set_filter(subscription.id, current, now)
    preview = FilterPreview()
    for item in await store.items.latest_texts(feed.feed_id, PREVIEW_ITEMS):
        rule = compiled.check(FilterInput(item.title, item.summary, item.text))
        if rule is None:
            preview.passed.append(item)
        else:
            preview.held.append((item, rule))
    return FilterChange(feed, subscription.channel_id, previous, current, preview)
