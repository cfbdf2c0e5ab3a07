"""The answers of `/follow`, `/unfollow`, `/following` and the "Stop this topic" button (and of
the console's `follow`, `unfollow`, `following`), rendered once.

A topic is member text and a feed title is feed text: both are shown on one line, escaped,
never pinging, bounded. `notice` is what `FollowService.dm_notice` had to say first (closed DMs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.features.follow.service import FollowAnswer, FollowedTopic, StopOutcome, StopResult
from bot.features.posts.render import plural
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
    result = answer.result
    outcome = result.outcome
    if outcome is FollowOutcome.NOT_SEARCHABLE:
        problem = result.problem or "That topic has no words."
        return _answer(f'{problem} A topic is words or "a phrase", like `/search` takes.', notice)
    if outcome is FollowOutcome.LIMIT_REACHED:
        return _answer(
            f"You already follow {MAX_TOPICS_PER_MEMBER} topics in this server, the most "
            "there can be. Unfollow one with `/unfollow` first.",
            notice,
        )
    assert result.topic is not None
    topic = f"**{shown_topic(result.topic.query)}**"
    feed = answer.feed
    where = f" in **{shown_topic(feed.title or feed.url)}**" if feed else ""
    if outcome is FollowOutcome.ALREADY_FOLLOWED:
        return _answer(f"You already follow {topic}{where} (same words). Nothing changed.", notice)
    return _answer(
        f"Following {topic}{where}. I'll DM you when a new post in this server's feeds matches "
        f"(it matches what `/search` would find). You follow {answer.count} of "
        f"{MAX_TOPICS_PER_MEMBER} topics here.",
        notice,
    )


def render_follow_refused(problem: str, notice: str | None = None) -> Message:
    """A `feed` option that names no feed of the server (the service's message)."""
    return _answer(problem, notice)


def render_unfollow(removed: TopicRow | None, notice: str | None = None) -> Message:
    if removed is None:
        return _answer(
            "You don't follow that topic in this server. `/following` lists your topics.", notice
        )
    return _answer(
        f"Stopped following **{shown_topic(removed.query)}**. No more DMs for it.", notice
    )


def render_following(topics: Sequence[FollowedTopic], notice: str | None = None) -> Message:
    """The member's topics with how many items matched each so far."""
    if not topics:
        return _answer('You follow no topics in this server. Try `/follow "open weight"`.', notice)
    lines = [f"Your topics in this server ({len(topics)} of {MAX_TOPICS_PER_MEMBER}):"]
    for number, followed in enumerate(topics, 1):
        topic = followed.topic
        line = f"{number}. **{shown_topic(topic.query)}**"
        if topic.feed_id is not None:
            line += f" in {shown_topic(followed.feed_title or 'a feed no longer followed')}"
        if topic.match_count:
            line += f" — {plural(topic.match_count, 'match', 'matches')}"
            if topic.last_match_at is not None:
                last = datetime.fromtimestamp(topic.last_match_at, tz=UTC)
                line += f", last {discord_timestamp(last, 'R')}"
        else:
            line += " — no matches yet"
        lines.append(line)
    return _answer("\n".join(lines), notice)


def render_not_in_server() -> Message:
    return Message(content="Following topics works in a server.")


def render_stop(result: StopResult, guild_name: str | None) -> Message:
    """The answer to the "Stop this topic" button (`guild_name`: where the topic was)."""
    if result.outcome is StopOutcome.NOT_YOURS:
        return Message(content="Only the member who follows this topic can stop it.")
    if result.outcome is StopOutcome.GONE or result.topic is None:
        return Message(content="You no longer follow that topic.")
    where = f" in **{shown_topic(guild_name)}**" if guild_name else ""
    return Message(
        content=f"Stopped following **{shown_topic(result.topic.query)}**{where}. "
        "Follow it again any time with `/follow`."
    )


def render_dm_notice(notice: str) -> Message:
    """What a member whose DMs are closed is told once, after another command's answer."""
    return Message(content=notice)
