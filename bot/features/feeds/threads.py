"""Where a subscription's posts go inside its channel: the tag of each new forum post
(`/feed add … tag`), and, in a text channel, a thread per post (`/feed threads`).

The Discord sender reads both from the delivery (bot.delivery.discord_threads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.i18n import _
from bot.model import GuildFeed, Message
from bot.safe import shown


@dataclass(frozen=True, slots=True)
class ForumTag:
    """A forum's tag as the admin picks it (id and name only)."""

    id: int
    name: str


def pick_tag(tags: Sequence[ForumTag], wanted: str) -> ForumTag | None:
    """The tag `wanted` names: its id (what autocomplete fills in) or its name, any case."""
    wanted = wanted.strip()
    for tag in tags:
        if wanted == str(tag.id) or wanted.casefold() == tag.name.casefold():
            return tag
    return None


def render_unknown_tag(tags: Sequence[ForumTag], forum: str) -> Message:
    if not tags:
        return Message(
            content=_("{forum} has no tags. Leave out `tag`, or add tags to it first.", forum=forum)
        )
    names = _(", ").join(f"**{shown(t.name)}**" for t in tags)
    return Message(
        content=_("That is not a tag of {forum}. Its tags: {tags}.", forum=forum, tags=names)
    )


def render_tag_needs_forum() -> Message:
    return Message(content=_("`tag` is for forum channels: pick a forum as the `channel`."))


def with_tag_line(answer: Message, tag: ForumTag, forum: str) -> Message:
    """`/feed add`'s answer, saying which tag the forum's new posts carry."""
    line = _(
        "Each new post in {forum} will carry the tag **{tag}**.", forum=forum, tag=shown(tag.name)
    )
    return replace(answer, content=f"{answer.content or ''}\n{line}".strip())


@dataclass(frozen=True, slots=True)
class ThreadsSetting:
    feed: GuildFeed
    on: bool


def render_threads(setting: ThreadsSetting, *, channel: str) -> Message:
    names = {"title": f"**{shown(setting.feed.title or setting.feed.url)}**", "channel": channel}
    if setting.on:
        return Message(
            content=_(
                "Each post of {title} in {channel} will open a thread named after its "
                "item, for the discussion.",
                **names,
            )
        )
    return Message(content=_("Posts of {title} in {channel} no longer open a thread.", **names))
