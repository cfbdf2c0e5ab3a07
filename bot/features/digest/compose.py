"""Compose a channel's scheduled digest: the period's items, grouped by feed, newest first.

Pure and deterministic: the same items give the same messages. A long digest is split into
several messages within Discord's per-message limits, in order. Past `max_items`, the newest
are listed and the last message says how many more there are and how to find them. A digest
never pings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.features.posts.language import slash
from bot.features.posts.render import (
    Source,
    also_in_text,
    feed_name,
    item_details,
    item_title,
)
from bot.i18n import N_, _, ngettext
from bot.i18n.dates import format_day
from bot.model import (
    CONTENT_LIMIT,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    Embed,
    ItemView,
    Message,
)
from bot.safe import discord_timestamp, fit_text, link_target, one_line, safe_url, truncate

DEFAULT_MAX_ITEMS = 50
ENTRY_TITLE_LIMIT = 200
ENTRY_SUMMARY_LIMIT = 200
# Longer item URLs are not linked in a digest, so one entry cannot crowd out the others.
ENTRY_URL_LIMIT = 1000
ENTRY_SEPARATOR = "\n\n"
CONTINUED = N_(" (continued)")  # after a feed's name, on its next embed


def _entry(item: ItemView, also: Sequence[ItemView] = ()) -> str:
    """Markdown for one item: linked bold title, relative time, then a one-line summary, and
    the other feeds that told the same story ("Also in")."""
    title = fit_text(item_title(item), ENTRY_TITLE_LIMIT)
    url = safe_url(item.url)
    target = link_target(url) if url else ""
    linked = f"[{title}]({target})" if target and len(target) <= ENTRY_URL_LIMIT else title
    when = discord_timestamp(item.published, "R")
    details = item_details(item, link_limit=ENTRY_URL_LIMIT).line()
    head = " · ".join(part for part in (f"**{linked}**", when, details) if part)
    summary = fit_text(one_line(item.summary), ENTRY_SUMMARY_LIMIT)
    lines = [head, summary] if summary else [head]
    if also:
        feeds = also_in_text([Source(feed_name(o), o.url) for o in also])
        lines.append(_("Also in: {feeds}", feeds=feeds))
    return "\n".join(lines)


@dataclass(slots=True)
class _Packer:
    """Fills messages with embeds without crossing Discord's per-message limits. The open
    embed of a feed grows entry by entry (it is replaced, embeds are immutable)."""

    messages: list[list[Embed]]
    size: int = 0

    def fits(self, extra: int, *, new_embed: bool) -> bool:
        count = len(self.messages[-1]) + (1 if new_embed else 0)
        return count <= EMBEDS_PER_MESSAGE and self.size + extra <= EMBED_TOTAL_LIMIT

    def add_embed(self, embed: Embed) -> None:
        if not self.fits(embed.size(), new_embed=True):
            self.messages.append([])
            self.size = 0
        self.messages[-1].append(embed)
        self.size += embed.size()

    def add_entry(self, item: ItemView, entry: str, current: bool) -> None:
        """Append `entry` to the feed's open embed (the last one, when `current`) or to a new
        (continuation) embed."""
        if current:
            open_embed = self.messages[-1][-1]
            description = open_embed.description or ""
            extra = len(ENTRY_SEPARATOR) + len(entry)
            room_in_embed = len(description) + extra <= EMBED_DESCRIPTION_LIMIT
            if room_in_embed and self.fits(extra, new_embed=False):
                grown = description + ENTRY_SEPARATOR + entry
                self.messages[-1][-1] = replace(open_embed, description=grown)
                self.size += extra
                return
        suffix = _(CONTINUED) if current else ""
        title = fit_text(feed_name(item), EMBED_TITLE_LIMIT - len(suffix)) + suffix
        url = safe_url(item.site_url) or safe_url(item.feed_url)
        self.add_embed(Embed(title=title, url=url, description=entry))


def compose_digest(
    items: Sequence[ItemView],
    *,
    channel_name: str,
    period_start: datetime,
    period_end: datetime,
    max_items: int = DEFAULT_MAX_ITEMS,
    also_in: Mapping[int, Sequence[ItemView]] | None = None,
) -> list[Message]:
    """The messages of one digest, in sending order; [] when the period has no items.
    `items`: the period's (duplicates by `item_id` count once; past `max_items`, the newest
    are listed). `also_in`: by item id, the items of other feeds with the same story (listed
    in its entry, not apart)."""
    unique = {item.item_id: item for item in reversed(items)}  # the first of each id
    if not unique:
        return []
    newest = sorted(unique.values(), key=lambda i: (-i.published.timestamp(), -i.item_id))
    shown = newest[: max(0, max_items)]
    more = len(newest) - len(shown)
    groups: dict[int, list[ItemView]] = {}
    for item in shown:  # newest first, so each feed's items are too
        groups.setdefault(item.feed_id, []).append(item)

    packer = _Packer([[]])
    # Feeds ordered by name (then id).
    for group in sorted(groups.values(), key=lambda g: (feed_name(g[0]).casefold(), g[0].feed_id)):
        for position, item in enumerate(group):
            also = (also_in or {}).get(item.item_id, ())
            packer.add_entry(item, _entry(item, also), current=position > 0)
    if more:
        packer.add_embed(
            Embed(
                description=ngettext(
                    "…and **{count} more** item in this period. Use {latest} to see a feed's "
                    "newest items or {search} to find any of them.",
                    "…and **{count} more** items in this period. Use {latest} to see a feed's "
                    "newest items or {search} to find any of them.",
                    more,
                    latest=slash("latest"),
                    search=slash("search"),
                )
            )
        )
    channel = fit_text(one_line(channel_name).lstrip("#"), 100)
    feed_count = len({item.feed_id for item in unique.values()})
    span = f"{discord_timestamp(period_start, 'f')} – {discord_timestamp(period_end, 'f')}"
    header = truncate(
        _(
            "**Digest for #{channel}** · {items} from {feeds} · {span}",
            channel=channel,
            items=ngettext("{count} new item", "{count} new items", len(newest)),
            feeds=ngettext("{count} feed", "{count} feeds", feed_count),
            span=span,
        ),
        CONTENT_LIMIT,
    )
    title = _("Digest for #{channel} · {date}", channel=channel, date=format_day(period_end))
    embed_lists = [embeds for embeds in packer.messages if embeds]
    return [
        Message(
            content=header if index == 0 else None,
            embeds=tuple(embeds),
            title=title if index == 0 else None,
        )
        for index, embeds in enumerate(embed_lists)
    ]
