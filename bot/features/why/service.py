"""`/why item`: for each channel that follows an item's feed, what the bot did with the item
there, and why.

The answer is computed from what the store records, never guessed: the item's own post (its
delivery: sent, queued, paused, failed), else the digest that lists it, else the reason it
was never queued, in this order: the channel's subscription is paused; the item was archived
before the channel followed the feed (an archive item: only a backfill posts those); the
channel's filter holds it back (recomputed with the filter the channel has now, naming the rule
that matched); the channel collects the feed for its digest (due at its next slot).

`guild_id` None (the CLI) covers every guild's channels. The service never decides who may
see a channel: the Discord front end drops the channels the member cannot view.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from bot.features.digest.schedule import next_slot_after
from bot.features.digest.service import schedule_of
from bot.features.feeds.filters import check_filters
from bot.model import DeliveryRow, FeedRow, ItemRow, ItemText
from bot.search.query import parse_query
from bot.store import Store
from bot.store.search import search_items
from bot.store.why import ChannelRecord

ITEM_CHOICES_MAX = 25
MAX_ITEM_CHARS = 500
# An autocomplete choice's value: the item's id (a member may also type a URL or words).
ITEM_VALUE = re.compile(r"^item:(\d{1,18})$")

WhyState = Literal[
    "posted",
    "merged",
    "digest",
    "filtered",
    "backfill",
    "queued",
    "paused",
    "failed",
    "cancelled",
    "none",
]


@dataclass(frozen=True, slots=True)
class ChannelWhy:
    """What happened to the item in one channel. `at`: when it was posted, the next try, the
    digest's slot, or since when the channel is paused (None: not known). `detail`: the rule
    that matched, the pause's reason or the error, in the bot's or the feed's words."""

    guild_id: int
    channel_id: int
    state: WhyState
    at: float | None = None
    message_id: int | None = None
    detail: str | None = None
    in_digest: bool = False  # the post (or queued send) is the channel's digest


@dataclass(frozen=True, slots=True)
class WhyAnswer:
    """The item asked about (None: not in the archive), one line per channel following its
    feed, and, for an item not in the archive, the feeds whose site the URL belongs to."""

    asked: str
    item: ItemRow | None
    channels: list[ChannelWhy]
    feeds: list[FeedRow]


def _url_forms(text: str) -> list[str]:
    """The spellings of a typed URL an archived link may have: as typed, with or without
    the trailing slash, over http or https."""
    base = text.split("#", 1)[0]
    forms = [base, base.rstrip("/"), base.rstrip("/") + "/"]
    for form in list(forms):
        if form.startswith("https://"):
            forms.append("http://" + form.removeprefix("https://"))
        elif form.startswith("http://"):
            forms.append("https://" + form.removeprefix("http://"))
    return list(dict.fromkeys(f for f in forms if f))


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url if "://" in url else "https://" + url).hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


def looks_like_url(text: str) -> bool:
    return "://" in text or (" " not in text and "/" in text and "." in text.split("/", 1)[0])


def _delivery_why(
    record: ChannelRecord, delivery: DeliveryRow, in_digest: bool
) -> ChannelWhy | None:
    """The line a delivery of the item gives (None: it says nothing; look further)."""
    sub = record.subscription
    error = delivery.last_error
    line = ChannelWhy(sub.guild_id, sub.channel_id, "none", detail=error, in_digest=in_digest)
    state = delivery.state
    if state == "sent":
        message = delivery.message_id or next((m for m in delivery.progress if m), None)
        return replace(line, state="posted", at=delivery.sent_at, message_id=message, detail=None)
    if state in ("pending", "sending"):
        return replace(line, state="queued", at=delivery.next_attempt_at)
    if state == "paused":
        return replace(line, state="paused", at=sub.paused_at, detail=sub.paused_reason or error)
    if state == "failed":
        return replace(line, state="failed")
    if in_digest:  # a cancelled digest: its items wait for the next one
        return None
    return replace(line, state="cancelled")


class WhyService:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def _feed_ids(self, guild_id: int | None) -> list[int] | None:
        if guild_id is None:
            return None
        return await self._store.subscriptions.searchable_feed_ids_for_guild(guild_id)

    async def item_choices(self, guild_id: int, typed: str) -> list[ItemRow]:
        """Autocomplete: the newest items of the guild's archive whose title contains `typed`."""
        feed_ids = await self._feed_ids(guild_id) or []
        return await self._store.why.titled(feed_ids, typed.strip()[:100], ITEM_CHOICES_MAX)

    async def find(self, guild_id: int | None, asked: str) -> ItemRow | None:
        """The item meant by an autocomplete value, a URL (its link) or words (the best
        /search hit), in the guild's archive (guild None: every feed's)."""
        text = asked.strip()[:MAX_ITEM_CHARS]
        feed_ids = await self._feed_ids(guild_id)
        if (chosen := ITEM_VALUE.match(text)) is not None:
            return await self._store.why.item(int(chosen.group(1)), feed_ids)
        if looks_like_url(text):
            found = await self._store.why.items_by_url(_url_forms(text), feed_ids)
            return found[0] if found else None
        query = parse_query(text)
        if query is None or query.problem is not None:
            return None
        if feed_ids is None:
            feed_ids = [feed.id for feed in await self._store.feeds.all()]
        page = await search_items(self._store.db, query, feed_ids=feed_ids, limit=1)
        return await self._store.items.get(page.hits[0].item_id) if page.hits else None

    async def why(self, guild_id: int | None, asked: str) -> WhyAnswer:
        """What happened to the item in each channel of the guild (None: of every guild)
        that follows its feed."""
        item = await self.find(guild_id, asked)
        if item is None:
            return WhyAnswer(asked, None, [], await self._feeds_of_site(guild_id, asked))
        records = await self._store.why.channels(item, guild_id)
        lines = [await self._channel(item, record) for record in records]
        return WhyAnswer(asked, item, lines, [])

    async def _feeds_of_site(self, guild_id: int | None, asked: str) -> list[FeedRow]:
        """The guild's feeds (guild None: all) on the host of the URL asked about."""
        host = _host(asked.strip()) if looks_like_url(asked.strip()) else None
        if host is None:
            return []
        feed_ids = await self._feed_ids(guild_id)
        return [
            f
            for f in await self._store.feeds.all()
            if (feed_ids is None or f.id in feed_ids) and host in (_host(f.url), _host(f.site_url))
        ]

    async def _channel(self, item: ItemRow, record: ChannelRecord) -> ChannelWhy:
        sub, post = record.subscription, record.post
        if post is not None and (merged := await self._merged(record, post)):
            return merged
        for delivery, in_digest in ((post, False), (record.digest, True)):
            if delivery is not None and (found := _delivery_why(record, delivery, in_digest)):
                return found
        line = ChannelWhy(guild_id=sub.guild_id, channel_id=sub.channel_id, state="none")
        if sub.paused:
            return replace(line, state="paused", at=sub.paused_at, detail=sub.paused_reason)
        if item.first_seen_at <= sub.created_at:
            return replace(line, state="backfill", at=sub.created_at)
        if sub.filter is not None:
            text = await self._store.items.text(item.id)
            if text is None:  # gone between the two reads: judge title and summary
                text = ItemText(item.id, item.url, item.title, item.summary, "")
            if (rule := check_filters([sub.filter], text)[0]) is not None:
                return replace(line, state="filtered", detail=rule)
        # A digest collects only what arrived after its feed entered digest mode.
        if sub.mode == "digest" and item.first_seen_at > (record.digest_since or sub.created_at):
            return replace(line, state="digest", at=await self._next_digest(sub.channel_id))
        return line

    async def _merged(self, record: ChannelRecord, delivery: DeliveryRow) -> ChannelWhy | None:
        """The item was the same story as an earlier post in the channel: "merged into the
        post of Feed A" (detail: that feed's name), while that edit is done or on its way.
        None: it was posted on its own (only an edit has `merged_into`), or the edit failed."""
        if delivery.state not in ("sent", "pending", "sending") or delivery.merged_into is None:
            return None
        original = await self._store.deliveries.get(delivery.merged_into)
        if original is None or original.item_id is None:
            return None
        if delivery.state == "sent" and delivery.message_id != original.message_id:
            return None  # the earlier post was never sent: this item was posted itself
        row = await self._store.items.get(original.item_id)
        sub = record.subscription
        return ChannelWhy(
            sub.guild_id,
            sub.channel_id,
            "merged",
            at=original.sent_at,
            message_id=original.message_id,
            detail=(row.feed_title or row.feed_url) if row is not None else None,
        )

    async def _next_digest(self, channel_id: int) -> float | None:
        row = await self._store.digests.get(channel_id)
        if row is None:
            return None
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        return next_slot_after(schedule_of(row), now).timestamp()
