"""Posting into forums and opening a thread per post, for the Discord sender.

A forum takes posts, not messages: each delivery opens a post (its first message the rendered
Message, its title `thread_name`, with the subscription's forum tag); a digest of several
messages puts the rest inside it. In a text channel a subscription may ask for a thread per
post, started from the sent post. A forum post carries no nonce, so one that may have gone
through is looked for among the guild's active threads (ours, in that forum, created since the
delivery was queued) by its first message, whose id is the thread's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord

from bot.delivery.discord_message import send_kwargs
from bot.delivery.thread_title import NEW_POST, own_title
from bot.i18n import _
from bot.model import DeliveryRow, Message

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100  # Discord's limit on a thread's (a forum post's) name


def thread_name(message: Message) -> str:
    """A post's title for a forum post or a thread (`own_title`, else "New post", which the
    composer has already put in the post's language), cut to Discord's 100 characters."""
    name = own_title(message) or _(NEW_POST)
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1] + "…"


async def create_forum_post(
    forum: discord.ForumChannel, delivery: DeliveryRow, message: Message
) -> int:
    """Open a new post in `forum` with `message` as its first message; its id (the thread's)."""
    kwargs: dict[str, Any] = send_kwargs(message)
    tag = forum.get_tag(delivery.forum_tag_id) if delivery.forum_tag_id is not None else None
    if delivery.forum_tag_id is not None and tag is None:
        log.warning(
            "delivery %d: forum %d no longer has tag %d; posting without it",
            delivery.id,
            forum.id,
            delivery.forum_tag_id,
        )
    if tag is not None:
        kwargs["applied_tags"] = [tag]
    created = await forum.create_thread(name=thread_name(message), **kwargs)
    return created.message.id


async def open_thread_on(posted: discord.PartialMessage, message: Message) -> None:
    """Start a thread named after the post from it. A failure (say, Create Public Threads
    missing) is logged: the post itself is out and is never sent again for this."""
    try:
        await posted.create_thread(name=thread_name(message))
    except discord.HTTPException as error:
        log.warning(
            "could not open a thread on message %d in channel %d: %s (I need Create Public "
            "Threads there)",
            posted.id,
            posted.channel.id,
            error.text or error.status,
        )


async def find_forum_post(
    forum: discord.ForumChannel,
    me: discord.abc.Snowflake,
    since: datetime,
    is_ours: Callable[[discord.Message], bool],
) -> int | None:
    """The first message of our post in `forum`, created since `since`, that `is_ours`
    accepts, newest first, among the guild's active threads (a post just made is active)."""
    threads = await forum.guild.active_threads()
    candidates = sorted(
        (
            t
            for t in threads
            if t.parent_id == forum.id
            and t.owner_id == me.id
            and (t.created_at is None or t.created_at >= since)
        ),
        key=lambda t: t.id,
        reverse=True,
    )
    for thread in candidates:
        try:
            first = await thread.fetch_message(thread.id)
        except discord.NotFound:
            continue  # the post's first message was deleted: not one we can match
        if is_ours(first):
            return first.id
    return None
