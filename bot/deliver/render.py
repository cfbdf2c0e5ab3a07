"""Render one stored item as a Discord embed (or plain text for console mode).

Every piece of feed text is neutralized (no pings), escaped where Discord would render markdown,
truncated on a word to Discord's limits, and only http(s) URLs are used for links and images.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import discord

from bot.deliver.sanitize import (
    discord_timestamp,
    fit_text,
    link_target,
    one_line,
    safe_url,
    strip_control,
)

# Discord's documented limits.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELD_COUNT_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000

EMBED_COLOUR = discord.Colour(0x5865F2)
UNTITLED = "(untitled)"
# A compact embed stays under this many counted characters, so ten fit in one message.
COMPACT_MAX_CHARS = EMBED_TOTAL_LIMIT // EMBEDS_PER_MESSAGE
COMPACT_TITLE_LIMIT = 200
COMPACT_SUMMARY_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ItemView:
    """What rendering needs to know about one stored item (the store builds it)."""

    item_id: int
    feed_id: int
    feed_title: str
    feed_url: str
    site_url: str | None
    title: str
    url: str | None
    author: str | None
    published: datetime  # aware, UTC
    summary: str
    image_url: str | None
    enclosure_url: str | None
    enclosure_type: str | None
    duration_s: int | None


@dataclass(frozen=True, slots=True)
class ItemMessage:
    """One channel post: send all three together."""

    content: str | None
    embed: discord.Embed
    allowed_mentions: discord.AllowedMentions


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts toward its 6000 limit: title, description, field names and
    values, footer text and author name."""
    total = len(embed.title or "") + len(embed.description or "")
    for field in embed.fields:
        total += len(field.name or "") + len(field.value or "")
    total += len(embed.footer.text or "")
    total += len(embed.author.name or "")
    return total


def format_duration(seconds: int) -> str:
    """`H:MM:SS` from one hour up, `M:SS` below."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def feed_name(item: ItemView) -> str:
    """The feed's title, or its host when the feed has none."""
    name = one_line(item.feed_title)
    if name:
        return name
    return one_line(item.site_url or item.feed_url) or "feed"


def item_title(item: ItemView) -> str:
    return one_line(item.title) or UNTITLED


def _media_kind(item: ItemView) -> str | None:
    """ "audio", "video" or None for an item's enclosure (no type + a duration means audio)."""
    kind = (item.enclosure_type or "").split("/", 1)[0].strip().lower()
    if kind in ("audio", "video"):
        return kind
    if not kind and item.duration_s:
        return "audio"
    return None


def _image_url(item: ItemView) -> str | None:
    image = safe_url(item.image_url)
    if image is None and (item.enclosure_type or "").lower().startswith("image/"):
        image = safe_url(item.enclosure_url)
    return image


def _media_link(item: ItemView) -> str | None:
    """`[Audio (mp3)](url)` for the enclosure, or None when there is none or it cannot fit."""
    kind = _media_kind(item)
    url = safe_url(item.enclosure_url)
    if kind is None or url is None:
        return None
    subtype = (item.enclosure_type or "").partition("/")[2].split(";")[0].strip().lower()
    subtype = subtype.removeprefix("x-").replace("mpeg", "mp3")
    label = kind.capitalize() + (f" ({subtype})" if subtype.isalnum() and subtype else "")
    link = f"[{label}]({link_target(url)})"
    return link if len(link) <= FIELD_VALUE_LIMIT else None


def render_item_embed(item: ItemView) -> discord.Embed:
    """The full embed for one item: linked title, summary, feed, author, image, timestamp,
    and for podcasts the duration and a link to the audio."""
    embed = discord.Embed(
        title=fit_text(item_title(item), TITLE_LIMIT),
        url=safe_url(item.url),
        colour=EMBED_COLOUR,
        timestamp=item.published,
    )
    # Author name and footer never render markdown, so they are neutralized but not escaped.
    embed.set_author(
        name=fit_text(feed_name(item), AUTHOR_LIMIT, markdown=False),
        url=safe_url(item.site_url) or safe_url(item.feed_url),
    )
    if item.author and one_line(item.author):
        embed.set_footer(text=fit_text("by " + one_line(item.author), AUTHOR_LIMIT, markdown=False))
    image = _image_url(item)
    if image:
        embed.set_image(url=image)
    if _media_kind(item) is not None:
        if item.duration_s:
            embed.add_field(name="Duration", value=format_duration(item.duration_s), inline=True)
        link = _media_link(item)
        if link:
            name = "Listen" if _media_kind(item) == "audio" else "Watch"
            embed.add_field(name=name, value=link, inline=True)
    room = EMBED_TOTAL_LIMIT - embed_size(embed)
    summary = item.summary.strip()
    if summary:
        embed.description = fit_text(summary, min(DESCRIPTION_LIMIT, room))
    return embed


def render_item_message(item: ItemView, *, mention_role_id: int | None) -> ItemMessage:
    """The post for a channel subscription. The only ping it can make is the opted-in role."""
    embed = render_item_embed(item)
    if mention_role_id is None:
        return ItemMessage(
            content=None, embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )
    allowed = discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(id=mention_role_id)],
        replied_user=False,
    )
    return ItemMessage(content=f"<@&{mention_role_id}>", embed=embed, allowed_mentions=allowed)


def render_item_compact(item: ItemView) -> discord.Embed:
    """A small embed for lists (/latest, /search): linked title, feed, relative time and a
    one-line summary. At most `COMPACT_MAX_CHARS` counted characters, so ten fit a message."""
    embed = discord.Embed(
        title=fit_text(item_title(item), COMPACT_TITLE_LIMIT),
        url=safe_url(item.url),
        colour=EMBED_COLOUR,
    )
    header = f"{fit_text(feed_name(item), 100)} · {discord_timestamp(item.published, 'R')}"
    room = COMPACT_MAX_CHARS - len(embed.title or "") - len(header) - 1
    summary = fit_text(one_line(item.summary), min(COMPACT_SUMMARY_LIMIT, room))
    embed.description = f"{header}\n{summary}" if summary else header
    return embed


def render_item_text(item: ItemView) -> str:
    """Plain text for console mode: title, link, date, summary, podcast duration and audio.

    Control characters are stripped so a feed cannot send terminal escape sequences.
    """

    def clean(text: str) -> str:
        return one_line(strip_control(text))

    published = item.published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"[{clean(feed_name(item))}] {clean(item_title(item))}"]
    url = safe_url(item.url)
    if url:
        lines.append(f"  {url}")
    byline = f"  {published}"
    if item.author and clean(item.author):
        byline += f" · by {clean(item.author)}"
    lines.append(byline)
    if _media_kind(item) is not None:
        media = []
        if item.duration_s:
            media.append(f"duration {format_duration(item.duration_s)}")
        audio = safe_url(item.enclosure_url)
        if audio:
            media.append(("listen: " if _media_kind(item) == "audio" else "watch: ") + audio)
        if media:
            lines.append("  " + " · ".join(media))
    summary = strip_control(item.summary).strip()
    if summary:
        lines.extend("  " + line.strip() for line in summary.splitlines() if line.strip())
    return "\n".join(lines)
