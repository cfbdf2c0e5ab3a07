"""Compose a channel's scheduled digest: the period's items, grouped by feed, newest first.

Pure and deterministic: the same items give the same messages. Each message holds at most 10
embeds and 6000 counted embed characters, content at most 2000; a long digest is split into
several messages, in order. Past `max_items`, the newest `max_items` are listed and the last
message says how many more there are and how to find them. Send every message with
`AllowedMentions.none()`: a digest never pings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import discord

from bot.deliver.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_COLOUR,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    TITLE_LIMIT,
    ItemView,
    embed_size,
    feed_name,
    format_duration,
    item_title,
)
from bot.safe import (
    discord_timestamp,
    fit_text,
    link_target,
    one_line,
    safe_url,
    truncate,
)

DEFAULT_MAX_ITEMS = 50
ENTRY_TITLE_LIMIT = 200
ENTRY_SUMMARY_LIMIT = 200
# Longer item URLs are not linked in a digest, so one entry cannot crowd out the others.
ENTRY_URL_LIMIT = 1000
ENTRY_SEPARATOR = "\n\n"
CONTINUED = " (continued)"


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """One Discord message of a digest."""

    content: str | None
    embeds: list[discord.Embed] = field(default_factory=list)


def _entry(item: ItemView) -> str:
    """Markdown for one item: linked bold title, relative time, then a one-line summary."""
    title = fit_text(item_title(item), ENTRY_TITLE_LIMIT)
    url = safe_url(item.url)
    target = link_target(url) if url else None
    if target and len(target) <= ENTRY_URL_LIMIT:
        head = f"**[{title}]({target})**"
    else:
        head = f"**{title}**"
    head += f" · {discord_timestamp(item.published, 'R')}"
    if item.duration_s:
        head += f" · {format_duration(item.duration_s)}"
    summary = fit_text(one_line(item.summary), ENTRY_SUMMARY_LIMIT)
    return f"{head}\n{summary}" if summary else head


def _feed_embed(item: ItemView, *, continued: bool) -> discord.Embed:
    suffix = CONTINUED if continued else ""
    title = fit_text(feed_name(item), TITLE_LIMIT - len(suffix)) + suffix
    return discord.Embed(
        title=title,
        url=safe_url(item.site_url) or safe_url(item.feed_url),
        colour=EMBED_COLOUR,
        description="",
    )


def _sort_key(item: ItemView) -> tuple[float, int]:
    return (-item.published.timestamp(), -item.item_id)


def _group_by_feed(items: Sequence[ItemView]) -> list[list[ItemView]]:
    """Feeds ordered by name (then id), each feed's items newest first."""
    groups: dict[int, list[ItemView]] = {}
    for item in items:
        groups.setdefault(item.feed_id, []).append(item)
    ordered = sorted(groups.values(), key=lambda g: (feed_name(g[0]).casefold(), g[0].feed_id))
    return [sorted(group, key=_sort_key) for group in ordered]


def _header(
    channel_name: str, total: int, feeds: int, period_start: datetime, period_end: datetime
) -> str:
    channel = fit_text(one_line(channel_name).lstrip("#"), 100)
    items = "1 new item" if total == 1 else f"{total} new items"
    sources = "1 feed" if feeds == 1 else f"{feeds} feeds"
    span = f"{discord_timestamp(period_start, 'f')} – {discord_timestamp(period_end, 'f')}"
    return truncate(f"**Digest for #{channel}** · {items} from {sources} · {span}", CONTENT_LIMIT)


def _more_embed(more: int) -> discord.Embed:
    noun = "item" if more == 1 else "items"
    return discord.Embed(
        colour=EMBED_COLOUR,
        description=(
            f"…and **{more} more** {noun} in this period. "
            "Use `/latest` to see a feed's newest items or `/search` to find any of them."
        ),
    )


class _Packer:
    """Fills messages with embeds without crossing Discord's per-message limits."""

    def __init__(self) -> None:
        self.messages: list[list[discord.Embed]] = [[]]
        self.size = 0

    def fits(self, extra: int, *, new_embed: bool) -> bool:
        count = len(self.messages[-1]) + (1 if new_embed else 0)
        return count <= EMBEDS_PER_MESSAGE and self.size + extra <= EMBED_TOTAL_LIMIT

    def add_embed(self, embed: discord.Embed) -> None:
        if not self.fits(embed_size(embed), new_embed=True):
            self.messages.append([])
            self.size = 0
        self.messages[-1].append(embed)
        self.size += embed_size(embed)

    def add_entry(self, item: ItemView, entry: str, current: discord.Embed | None) -> discord.Embed:
        """Append `entry` to `current` (the feed's open embed) or to a continuation embed."""
        if current is not None:
            description = current.description or ""
            extra = len(ENTRY_SEPARATOR) + len(entry) if description else len(entry)
            room_in_embed = len(description) + extra <= DESCRIPTION_LIMIT
            if room_in_embed and self.fits(extra, new_embed=False):
                current.description = (
                    description + ENTRY_SEPARATOR + entry if description else entry
                )
                self.size += extra
                return current
        embed = _feed_embed(item, continued=current is not None)
        embed.description = entry
        self.add_embed(embed)
        return embed


def compose_digest(
    items: Sequence[ItemView],
    *,
    channel_name: str,
    period_start: datetime,
    period_end: datetime,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> list[DigestMessage]:
    """The messages of one digest, in sending order; [] when the period has no items.

    `items` are the period's items (the caller selects them); duplicates by `item_id` count
    once. When there are more than `max_items`, the newest `max_items` are listed.
    """
    unique: dict[int, ItemView] = {}
    for item in items:
        unique.setdefault(item.item_id, item)
    if not unique:
        return []
    newest = sorted(unique.values(), key=_sort_key)
    shown = newest[: max(0, max_items)]
    more = len(newest) - len(shown)
    groups = _group_by_feed(shown)

    packer = _Packer()
    for group in groups:
        current: discord.Embed | None = None
        for item in group:
            current = packer.add_entry(item, _entry(item), current)
    if more:
        packer.add_embed(_more_embed(more))

    feed_count = len({item.feed_id for item in unique.values()})
    header = _header(channel_name, len(newest), feed_count, period_start, period_end)
    embed_lists = [embeds for embeds in packer.messages if embeds]
    return [
        DigestMessage(content=header if index == 0 else None, embeds=embeds)
        for index, embeds in enumerate(embed_lists)
    ]


_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_MASKED_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ESCAPE = re.compile(r"\\(.)")


def _plain(markdown: str) -> str:
    """Discord markdown of our own making → readable terminal text."""

    def timestamp(match: re.Match[str]) -> str:
        moment = datetime.fromtimestamp(int(match.group(1)), tz=UTC)
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    text = _TIMESTAMP.sub(timestamp, markdown)
    text = _MASKED_LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", text)
    text = _BOLD.sub(r"\1", text)
    return _ESCAPE.sub(r"\1", text)


def digest_text(messages: Sequence[DigestMessage]) -> str:
    """A digest as plain text for console mode."""
    blocks: list[str] = []
    for message in messages:
        if message.content:
            blocks.append(_plain(message.content))
        for embed in message.embeds:
            lines: list[str] = []
            if embed.title:
                lines.append(f"== {_plain(embed.title)} ==")
            if embed.description:
                lines.append(_plain(embed.description))
            blocks.append("\n".join(lines))
    return "\n\n".join(block for block in blocks if block)
