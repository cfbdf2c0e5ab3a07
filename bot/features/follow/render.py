"""The answers of `/follow`, `/unfollow`, `/following` and the "Stop this topic" button (and of
the console's `follow`, `unfollow`, `following`), rendered once.

A topic is member text and a feed title is feed text: both are shown on one line, escaped,
never pinging, bounded. `notice` is what `FollowService.dm_notice` had to say first (closed DMs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.features.follow.service import FollowAnswer, FollowedTopic, StopOutcome, StopResult
from bot.i18n import _, ngettext, sentences
from bot.model import Message, TopicRow
from bot.safe import discord_timestamp, fit_text, one_line
from bot.store.topics import MAX_TOPICS_PER_MEMBER, FollowOutcome

TOPIC_SHOWN_LIMIT = 200


def shown_topic(text: str) -> str:
    """Member or feed text inline in an answer: one line, no markdown, no pings, bounded."""
    return fit_text(one_line(text), TOPIC_SHOWN_LIMIT)


def _answer(text: str, notice: str | None) -> Message:
    return Message(content=f"{notice}\n\n{text}" if notice else text)


def render_follow(answer: FollowAnswer, notice: str | None = None) -> Message:
    return _answer(_follow_text(answer), notice)


def _follow_text(answer: FollowAnswer) -> str:
    result = answer.result
    if result.outcome is FollowOutcome.NOT_SEARCHABLE:
        problem = result.problem or _("That topic has no words.")
        return sentences(problem, _('A topic is words or "a phrase", like `/search` takes.'))
    if result.outcome is FollowOutcome.LIMIT_REACHED:
        return _(
            "You already follow {limit} topics in this server, the most there can be. "
            "Unfollow one with `/unfollow` first.",
            limit=MAX_TOPICS_PER_MEMBER,
        )
    assert result.topic is not None
    topic = f"**{shown_topic(result.topic.query)}**"
    feed = shown_topic(answer.feed.title or answer.feed.url) if answer.feed else None
    if result.outcome is FollowOutcome.ALREADY_FOLLOWED:
        if feed:
            return _(
                "You already follow {topic} in **{feed}** (same words). Nothing changed.",
                topic=topic,
                feed=feed,
            )
        return _("You already follow {topic} (same words). Nothing changed.", topic=topic)
    if feed:
        head = _("Following {topic} in **{feed}**.", topic=topic, feed=feed)
    else:
        head = _("Following {topic}.", topic=topic)
    rest = _(
        "I'll DM you when a new post in this server's feeds matches (it matches what `/search` "
        "would find). You follow {count} of {limit} topics here.",
        count=answer.count,
        limit=MAX_TOPICS_PER_MEMBER,
    )
    return sentences(head, rest)


def render_follow_refused(problem: str, notice: str | None = None) -> Message:
    """A `feed` option that names no feed of the server (the service's message)."""
    return _answer(problem, notice)


def render_unfollow(removed: TopicRow | None, notice: str | None = None) -> Message:
    if removed is None:
        text = _("You don't follow that topic in this server. `/following` lists your topics.")
    else:
        topic = shown_topic(removed.query)
        text = _("Stopped following **{topic}**. No more DMs for it.", topic=topic)
    return _answer(text, notice)


def render_following(topics: Sequence[FollowedTopic], notice: str | None = None) -> Message:
    """The member's topics with how many items matched each so far."""
    if not topics:
        none = _('You follow no topics in this server. Try `/follow "open weight"`.')
        return _answer(none, notice)
    lines = [
        _(
            "Your topics in this server ({count} of {limit}):",
            count=len(topics),
            limit=MAX_TOPICS_PER_MEMBER,
        )
    ]
    for number, followed in enumerate(topics, 1):
        topic = followed.topic
        line = f"{number}. **{shown_topic(topic.query)}**"
        if topic.feed_id is not None:
            feed = shown_topic(followed.feed_title or _("a feed no longer followed"))
            line = sentences(line, _("in {feed}", feed=feed))
        matches = _("no matches yet")
        if topic.match_count:
            matches = ngettext("{count} match", "{count} matches", topic.match_count)
            if topic.last_match_at is not None:
                last = discord_timestamp(datetime.fromtimestamp(topic.last_match_at, tz=UTC), "R")
                matches = _("{matches}, last {when}", matches=matches, when=last)
        lines.append(f"{line} — {matches}")
    return _answer("\n".join(lines), notice)


def render_not_in_server() -> Message:
    return Message(content=_("Following topics works in a server."))


def render_stop(result: StopResult, guild_name: str | None) -> Message:
    """The answer to the "Stop this topic" button (`guild_name`: where the topic was)."""
    if result.outcome is StopOutcome.NOT_YOURS:
        return Message(content=_("Only the member who follows this topic can stop it."))
    if result.outcome is StopOutcome.GONE or result.topic is None:
        return Message(content=_("You no longer follow that topic."))
    topic = shown_topic(result.topic.query)
    if guild_name:
        text = _(
            "Stopped following **{topic}** in **{server}**.",
            topic=topic,
            server=shown_topic(guild_name),
        )
    else:
        text = _("Stopped following **{topic}**.", topic=topic)
    return Message(content=sentences(text, _("Follow it again any time with `/follow`.")))
