"""`/feed mention`: which role a channel's posts of a feed ping, and for which posts.

The condition is a query in the `/search` language (bot.search.query), kept as typed; a post
pings the role exactly when `/search` with those words would return it
(bot.features.posts.mention decides it at send time).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.features.search.service import SearchInputError
from bot.i18n import _
from bot.model import GuildFeed, Message, QueryProblem
from bot.safe import shown
from bot.search.query import parse_query

MAX_WHEN_CHARS = 300


@dataclass(frozen=True, slots=True)
class MentionRule:
    """A subscription's ping after `/feed mention`: no role (no ping), a role with every post,
    or a role with the posts that match `when`."""

    feed: GuildFeed
    role_id: int | None
    when: str | None


def mention_condition(role_id: int | None, when: str | None) -> str | None:
    """`when` as kept (None: every post pings `role_id`, if any); SearchInputError: it cannot
    be used."""
    condition = (when or "").strip()[:MAX_WHEN_CHARS] or None
    if condition is not None:
        if role_id is None:
            raise SearchInputError(
                _("`when` needs a `role` to ping. To stop pinging, leave out both.")
            )
        query = parse_query(condition)
        problem = QueryProblem.NO_WORDS if query is None else query.problem
        if problem is not None:
            raise SearchInputError(_("I can't use that `when`: {problem}", problem=problem.message))
    return condition


def render_mention(rule: MentionRule, *, channel: str, role_notifies: bool = True) -> Message:
    """`role_notifies`: False when the role is not mentionable (the ping notifies nobody)."""
    names = {
        "title": f"**{shown(rule.feed.title or rule.feed.url)}**",
        "channel": channel,
        "role": f"<@&{rule.role_id}>",
        "when": shown(rule.when or ""),
    }
    if rule.role_id is None:
        return Message(content=_("Posts of {title} in {channel} no longer ping a role.", **names))
    if rule.when is None:
        lines = [_("Each post of {title} in {channel} will ping {role}.", **names)]
    else:
        lines = [
            _(
                "Posts of {title} in {channel} will ping {role} only when they match "
                "“{when}” (as `/search` would find them); the others ping no one.",
                **names,
            )
        ]
    if not role_notifies:
        lines.append(not_mentionable_note())
    return Message(content="\n".join(lines))


def not_mentionable_note() -> str:
    """Said when a role ping would notify nobody (`/feed mention`, `/feed add … role`)."""
    return _(
        "Note: that role is not mentionable, so the ping will not notify anyone "
        "unless you allow it in the role's settings."
    )
