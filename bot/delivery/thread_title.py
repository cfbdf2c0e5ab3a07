"""The name a forum post or a thread opened from a post gets, in the post's language.

A Message is named by its own title, else its first embed's title, else its first line of
text. One with none of these (only files, say) is named "New post" in the language it was
written in: the composer sets that while it renders in the reader's language, because the
sender, which opens the thread, runs outside it.
"""

from __future__ import annotations

from dataclasses import replace

from bot.i18n import N_, _
from bot.model import Message
from bot.safe import one_line

# TRANSLATORS: the name of a forum post (or a thread) for a post that has no title.
NEW_POST = N_("New post")


def own_title(message: Message) -> str:
    """The message's own name for a thread, on one line ("" when it has none)."""
    title = message.title or next((e.title for e in message.embeds if e.title), None)
    if not title and message.content and message.content.strip():
        title = message.content.strip().splitlines()[0]
    return one_line(title or "")


def with_thread_title(message: Message) -> Message:
    """`message`, titled "New post" in the current language when it has no name of its own."""
    return message if own_title(message) else replace(message, title=_(NEW_POST))
