"""A topic DM: the item's card, which topic(s) matched in which server, and a persistent
"Stop this topic" button per topic.

A 'dm' delivery is queued with a payload listing the matched topics
(`{"topics": [{"id", "guild_id", "query"}]}`). At send time, topics the member has unfollowed
since are left out (none left: nothing is sent). The button's custom id is
`topic:stop:{topic_id}`; `cogs.follow` handles it as a DynamicItem: it works after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.features.posts.render import render_card
from bot.i18n import N_, _, ngettext
from bot.model import (
    BUTTON_LABEL_LIMIT,
    BUTTONS_PER_MESSAGE,
    CONTENT_LIMIT,
    Button,
    ItemView,
    Message,
)
from bot.safe import fit_text, one_line, plain_line

STOP_TOPIC_TEMPLATE = r"topic:stop:(?P<topic_id>[0-9]{1,19})"
STOP_LABEL = N_("Stop this topic")  # translated where shown: _(STOP_LABEL)
TOPIC_SHOWN_LIMIT = 100
GUILD_SHOWN_LIMIT = 100


def stop_topic_custom_id(topic_id: int) -> str:
    return f"topic:stop:{topic_id}"


@dataclass(frozen=True, slots=True)
class MatchedTopic:
    id: int
    guild_id: int
    query: str
    guild_name: str | None = None


def payload_topics(payload: Mapping[str, object]) -> list[MatchedTopic]:
    """The topics a 'dm' delivery was queued for (malformed entries are skipped)."""
    raw = payload.get("topics")
    topics: list[MatchedTopic] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        topic_id, guild_id, query = entry.get("id"), entry.get("guild_id"), entry.get("query")
        if isinstance(topic_id, int) and isinstance(guild_id, int) and isinstance(query, str):
            topics.append(MatchedTopic(topic_id, guild_id, query))
    return topics


def _safe(text: str, limit: int) -> str:
    return fit_text(one_line(text), limit)


def _matched_line(topics: Sequence[MatchedTopic]) -> str:
    """The line above the card: the matched topics, grouped by server."""
    by_guild: dict[int, list[MatchedTopic]] = {}
    for topic in topics:
        by_guild.setdefault(topic.guild_id, []).append(topic)
    parts = []
    for matched in by_guild.values():
        part = _(", ").join(f"**{_safe(t.query, TOPIC_SHOWN_LIMIT)}**" for t in matched)
        name = matched[0].guild_name
        if name:
            part = _(
                "{topics} in {server}", topics=part, server=f"**{_safe(name, GUILD_SHOWN_LIMIT)}**"
            )
        parts.append(part)
    separator = _("; ")
    text = ngettext(
        "🔔 A new post matches your topic {topics}",
        "🔔 A new post matches your topics {topics}",
        len(topics),
        topics=separator.join(parts),
    )
    return fit_text(text, CONTENT_LIMIT, markdown=False)


def _button_label(topic: MatchedTopic, alone: bool) -> str:
    if alone:
        return _(STOP_LABEL)
    label = _("Stop “{topic}”", topic=plain_line(topic.query))
    if len(label) <= BUTTON_LABEL_LIMIT:
        return label
    # Too long: the topic is cut, with "…", so the label keeps its own words.
    room = BUTTON_LABEL_LIMIT - len(_("Stop “{topic}”", topic="")) - 1
    return _("Stop “{topic}”", topic=plain_line(topic.query)[: max(0, room)] + "…")


def render_topic_dm(topics: Sequence[MatchedTopic], item: ItemView) -> Message:
    shown = topics[:BUTTONS_PER_MESSAGE]
    return Message(
        content=_matched_line(topics),
        embeds=(render_card(item),),
        buttons=tuple(
            Button(_button_label(topic, len(shown) == 1), custom_id=stop_topic_custom_id(topic.id))
            for topic in shown
        ),
    )
