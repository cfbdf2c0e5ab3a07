"""`/feed merge`: whether a channel's posts of a feed may be merged into an earlier post of the
same story from another of the channel's feeds (on by default; see bot.ingest.story)."""

from __future__ import annotations

from bot.features.digest.service import NotSubscribedError
from bot.features.search.service import SearchService
from bot.i18n import _
from bot.model import GuildFeed, Message
from bot.safe import shown
from bot.store import Store


async def set_merge(
    store: Store,
    search: SearchService,
    *,
    guild_id: int,
    channel_id: int,
    feed: str,
    merge: bool,
    now: float,
) -> GuildFeed:
    """Turn merging of the channel's posts of `feed` on or off (NotSubscribedError: the feed
    does not post there). Only items that arrive from now on are affected."""
    found = await search.resolve_feed(guild_id, feed)
    subscription = await store.subscriptions.find(channel_id, found.feed_id)
    if subscription is None or subscription.guild_id != guild_id:
        raise NotSubscribedError
    await store.subscriptions.set_merge_stories(subscription.id, merge, now)
    return found


def render_merge(feed: GuildFeed, merge: bool, *, channel: str) -> Message:
    title = f"**{shown(feed.title or feed.url)}**"
    if merge:
        return Message(
            content=_(
                "A story of {title} that {channel} already got from another feed in the "
                "last 72 hours is not posted again: the earlier post names it under “Also in”.",
                title=title,
                channel=channel,
            )
        )
    return Message(
        content=_(
            "Every post of {title} is posted in {channel}, even a story the channel "
            "already got from another feed.",
            title=title,
            channel=channel,
        )
    )
