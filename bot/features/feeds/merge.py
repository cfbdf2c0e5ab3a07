"""`/feed merge`: whether a channel's posts of a feed may be merged into an earlier post of the
same story from another of the channel's feeds (on by default; see bot.ingest.story)."""

from __future__ import annotations

from bot.i18n import _
from bot.model import GuildFeed, Message
from bot.safe import shown


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
