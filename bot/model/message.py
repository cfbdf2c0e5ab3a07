"""A message as plain data.

A feature renders its answer once, into a `Message`: content and embed text in Discord
markdown, already passed through `bot.safe`. One adapter turns a Message into discord.py
calls (bot.delivery.discord_message), another into terminal text (bot.delivery.terminal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Discord's documented message limits.
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FIELD_COUNT_LIMIT = 25
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
BUTTONS_PER_MESSAGE = 25
BUTTON_LABEL_LIMIT = 80

EMBED_COLOUR = 0x5865F2


@dataclass(frozen=True, slots=True)
class EmbedField:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Embed:
    """A Discord embed as plain data. Text fields are Discord markdown where Discord renders
    it (title, description, field values) and plain text where it does not (author, footer,
    field names)."""

    title: str | None = None
    url: str | None = None
    description: str | None = None
    author: str | None = None
    author_url: str | None = None
    footer: str | None = None
    image_url: str | None = None
    timestamp: datetime | None = None  # aware; Discord shows it in each member's zone
    fields: tuple[EmbedField, ...] = ()
    colour: int = EMBED_COLOUR

    def size(self) -> int:
        """Characters Discord counts toward its 6000 limit: title, description, field names
        and values, footer text and author name."""
        total = len(self.title or "") + len(self.description or "")
        total += sum(len(f.name) + len(f.value) for f in self.fields)
        return total + len(self.footer or "") + len(self.author or "")


@dataclass(frozen=True, slots=True)
class Button:
    """A button: `custom_id` for one the bot handles, or `url` for a link button."""

    label: str
    custom_id: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """One message, rendered once. `mention_role_id` is the only ping it may make (a role an
    admin opted into); everything else in it never pings."""

    content: str | None = None
    embeds: tuple[Embed, ...] = ()
    buttons: tuple[Button, ...] = ()
    files: tuple[Attachment, ...] = ()
    mention_role_id: int | None = None
