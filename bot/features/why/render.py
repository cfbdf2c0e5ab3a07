"""The `/why` answer, rendered once as a `Message`: the item, then one line per channel.

Feed text (titles, errors, pause reasons) and the admin's filter rules pass bot.safe; times are
Discord timestamps (each member sees their own zone; the terminal prints UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot.features.why.service import ChannelWhy, WhyAnswer
from bot.i18n import _, aside, sentences
from bot.ingest.errors import feed_error_text
from bot.model import EMBED_DESCRIPTION_LIMIT, Embed, FeedRow, Message
from bot.safe import discord_timestamp, link_target, safe_url, shown, truncate

TITLE_LIMIT = 200
DETAIL_LIMIT = 300
ASKED_LIMIT = 200
DISCORD_APP = "https://discord.com/channels"


def _at(ts: float | None, style: str = "R") -> str:
    if ts is None:
        return _("(time unknown)")
    return discord_timestamp(datetime.fromtimestamp(ts, tz=UTC), style)


def _detail(text: str | None, fallback: str) -> str:
    return truncate(shown(text), DETAIL_LIMIT) if text else fallback


def _label(labels: Mapping[int, str] | None, line: ChannelWhy) -> str:
    return (labels or {}).get(line.channel_id) or f"<#{line.channel_id}>"


def _jump(line: ChannelWhy) -> str:
    if line.message_id is None:
        return ""
    url = f"{DISCORD_APP}/{line.guild_id}/{line.channel_id}/{line.message_id}"
    return _("([jump to the message]({url}))", url=url)


def _state(line: ChannelWhy) -> str:
    match line.state:
        case "posted":
            when = _at(line.at, "f")
            if line.in_digest:
                return sentences(_("posted in the digest {when}", when=when), _jump(line))
            return sentences(_("posted {when}", when=when), _jump(line))
        case "merged":
            other = _("another feed")
            return _(
                "merged into the post of **{feed}**{jump}: the channel already had this story, "
                "so that post names this feed under “Also in”",
                feed=_detail(line.detail, other),
                jump=aside(_jump(line)),
            )
        case "digest":
            if line.at is None:
                return _(
                    "waiting for the digest, but this channel has no digest schedule: "
                    "set one with `/digest schedule`"
                )
            return _(
                "waiting for the digest at {when} ({relative})",
                when=_at(line.at, "f"),
                relative=_at(line.at),
            )
        case "filtered":
            a_rule = _("a rule")
            return _(
                "not posted because of the channel's filter: {rule}",
                rule=_detail(line.detail, a_rule),
            )
        case "backfill":
            return _(
                "not posted: it was published before the feed was added here ({when}); "
                "it is in the archive only",
                when=_at(line.at),
            )
        case "queued":
            if line.in_digest:
                text = _("queued: the digest goes out {when}", when=_at(line.at))
            else:
                text = _("queued: it goes out {when}", when=_at(line.at))
            if line.detail:
                text = sentences(text, _("(last try: {error})", error=_detail(line.detail, "")))
            return text
        case "paused":
            if not line.detail:
                return _(
                    "paused since {when} because of an error; adding a feed to the channel "
                    "again resumes it",
                    when=_at(line.at),
                )
            return _(
                "paused since {when} because {reason}; adding a feed to the channel again "
                "resumes it",
                when=_at(line.at),
                reason=_detail(line.detail, ""),
            )
        case "failed":
            refused = _("Discord refused it")
            return _("failed: {error}", error=_detail(line.detail, refused))
        case "cancelled":
            cancelled = _("cancelled")
            return _("not posted: {reason}", reason=_detail(line.detail, cancelled))
        case _:
            return _("not queued for this channel (yet): it may still be on its way")


def _feed_line(feed: FeedRow) -> str:
    name = truncate(shown(feed.display_title), TITLE_LIMIT)
    shown_feed = f"**{name}** (`{feed.url}`)" if "`" not in feed.url else f"**{name}**"
    if feed.disabled:
        by_operator = _("by the operator")
        state = _(
            "{feed} is disabled: {reason}",
            feed=shown_feed,
            reason=_detail(feed.disabled_reason, by_operator),
        )
    elif feed.consecutive_errors:
        error = _("error")
        state = _(
            "{feed} has failed since {when}: {error}",
            feed=shown_feed,
            when=_at(feed.failing_since),
            error=_detail(feed.last_error and feed_error_text(feed.last_error), error),
        )
    else:
        state = _("{feed} was last read {when}", feed=shown_feed, when=_at(feed.last_success_at))
    return "• " + _("{state}, next read {when}", state=state, when=_at(feed.next_poll_at))


def render_why(
    answer: WhyAnswer,
    *,
    labels: Mapping[int, str] | None = None,
    everywhere: bool = False,
) -> Message:
    """The answer; `answer.channels` are the channels to show (the front end already dropped
    those the member cannot see). `everywhere` words the empty cases for the operator's CLI
    (every server) rather than for this server and the channels the member can see."""
    item = answer.item
    if item is None:
        asked = truncate(shown(answer.asked), ASKED_LIMIT)
        lines = [_("**{asked}** is not in the archive.", asked=asked)]
        if answer.feeds:
            lines.append(_("The bot follows this site's feed(s); the item may not be out yet:"))
            lines.extend(_feed_line(feed) for feed in answer.feeds)
        elif everywhere:
            lines.append(_("No feed of any server has it."))
        else:
            lines.append(_("No feed of this server has it."))
        embed = Embed(title=_("Not in the archive"), description="\n".join(lines))
        return Message(embeds=(embed,))
    title = truncate(shown(item.title or _("(untitled)")), TITLE_LIMIT)
    feed = truncate(shown(item.feed_title or item.feed_url), TITLE_LIMIT)
    url = safe_url(item.url)
    lines = [_("From **{feed}**, published {when}.", feed=feed, when=_at(item.published_at))]
    if answer.channels:
        lines.extend(f"• {_label(labels, line)}: {_state(line)}" for line in answer.channels)
    elif everywhere:
        lines.append(_("No channel of any server follows this feed."))
    else:
        lines.append(_("No channel you can see follows this feed."))
    description = truncate("\n".join(lines), EMBED_DESCRIPTION_LIMIT)
    embed = Embed(title=title, url=link_target(url) if url else None, description=description)
    return Message(embeds=(embed,))
