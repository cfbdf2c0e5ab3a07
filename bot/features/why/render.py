"""The `/why` answer, rendered once as a `Message`: the item, then one line per channel.

Feed text (titles, errors, pause reasons) and the admin's filter rules pass bot.safe; times are
Discord timestamps (each member sees their own zone; the terminal prints UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot.features.why.service import ChannelWhy, WhyAnswer
from bot.model import EMBED_DESCRIPTION_LIMIT, Embed, FeedRow, Message
from bot.safe import discord_timestamp, link_target, safe_url, shown, truncate

TITLE_LIMIT = 200
DETAIL_LIMIT = 300
ASKED_LIMIT = 200
DISCORD_APP = "https://discord.com/channels"


def _at(ts: float | None, style: str = "R") -> str:
    if ts is None:
        return "(time unknown)"
    return discord_timestamp(datetime.fromtimestamp(ts, tz=UTC), style)


def _detail(text: str | None, fallback: str) -> str:
    return truncate(shown(text), DETAIL_LIMIT) if text else fallback


def _label(labels: Mapping[int, str] | None, line: ChannelWhy) -> str:
    return (labels or {}).get(line.channel_id) or f"<#{line.channel_id}>"


def _state(line: ChannelWhy) -> str:
    what = "the digest" if line.in_digest else "it"
    match line.state:
        case "posted":
            link = ""
            if line.message_id is not None:
                url = f"{DISCORD_APP}/{line.guild_id}/{line.channel_id}/{line.message_id}"
                link = f" ([jump to the message]({url}))"
            where = "in the digest " if line.in_digest else ""
            return f"posted {where}{_at(line.at, 'f')}{link}"
        case "merged":
            link = ""
            if line.message_id is not None:
                url = f"{DISCORD_APP}/{line.guild_id}/{line.channel_id}/{line.message_id}"
                link = f" ([jump to the message]({url}))"
            feed = _detail(line.detail, "another feed")
            return (
                f"merged into the post of **{feed}**{link}: the channel already had this story, "
                "so that post names this feed under “Also in”"
            )
        case "digest":
            if line.at is None:
                return (
                    "waiting for the digest, but this channel has no digest schedule: "
                    "set one with `/digest schedule`"
                )
            return f"waiting for the digest at {_at(line.at, 'f')} ({_at(line.at)})"
        case "filtered":
            return f"not posted because of the channel's filter: {_detail(line.detail, 'a rule')}"
        case "backfill":
            return (
                "not posted: it was published before the feed was added here "
                f"({_at(line.at)}); it is in the archive only"
            )
        case "queued":
            retry = f" (last try: {_detail(line.detail, '')})" if line.detail else ""
            return f"queued: {what} goes out {_at(line.at)}{retry}"
        case "paused":
            return (
                f"paused since {_at(line.at)} because {_detail(line.detail, 'of an error')}; "
                "adding a feed to the channel again resumes it"
            )
        case "failed":
            return f"failed: {_detail(line.detail, 'Discord refused it')}"
        case "cancelled":
            return f"not posted: {_detail(line.detail, 'cancelled')}"
        case _:
            return "not queued for this channel (yet): it may still be on its way"


def _feed_line(feed: FeedRow) -> str:
    name = truncate(shown(feed.display_title), TITLE_LIMIT)
    parts = [f"**{name}** (`{feed.url}`)" if "`" not in feed.url else f"**{name}**"]
    if feed.disabled:
        parts.append(f"is disabled: {_detail(feed.disabled_reason, 'by the operator')}")
    elif feed.consecutive_errors:
        parts.append(
            f"has failed since {_at(feed.failing_since)}: {_detail(feed.last_error, 'error')}"
        )
    else:
        parts.append(f"was last read {_at(feed.last_success_at)}")
    parts.append(f"next read {_at(feed.next_poll_at)}")
    return "• " + ", ".join(parts)


def render_why(
    answer: WhyAnswer,
    *,
    labels: Mapping[int, str] | None = None,
    audience: str = "you can see",
    scope: str = "this server",
) -> Message:
    """The answer; `answer.channels` are the channels to show (the front end already dropped
    those the member cannot see). `audience` and `scope` word the empty cases: "No channel
    you can see follows this feed", "No feed of this server has it"."""
    item = answer.item
    if item is None:
        asked = truncate(shown(answer.asked), ASKED_LIMIT)
        lines = [f"**{asked}** is not in the archive."]
        if answer.feeds:
            lines.append("The bot follows this site's feed(s); the item may not be out yet:")
            lines.extend(_feed_line(feed) for feed in answer.feeds)
        else:
            lines.append(f"No feed of {scope} has it.")
        return Message(embeds=(Embed(title="Not in the archive", description="\n".join(lines)),))
    title = truncate(shown(item.title or "(untitled)"), TITLE_LIMIT)
    feed = truncate(shown(item.feed_title or item.feed_url), TITLE_LIMIT)
    url = safe_url(item.url)
    lines = [f"From **{feed}**, published {_at(item.published_at)}."]
    if answer.channels:
        lines.extend(f"• {_label(labels, line)}: {_state(line)}" for line in answer.channels)
    else:
        lines.append(f"No channel {audience} follows this feed.")
    description = "\n".join(lines)
    if len(description) > EMBED_DESCRIPTION_LIMIT:
        description = truncate(description, EMBED_DESCRIPTION_LIMIT)
    embed = Embed(title=title, url=link_target(url) if url else None, description=description)
    return Message(embeds=(embed,))
