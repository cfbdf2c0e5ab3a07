"""Adding a feed from whatever URL a person pastes, and reading a feed into plain items.

One feed is one feed: addresses are compared normalized (bot.ingest.urls: case, default port,
tracking parameters, repeated slashes). Rows stored before a normalization rule existed keep
their URL (they are polled as they always were), so a lookup that misses by exact URL compares
the normalized form of every stored URL too. A feed's own word about its address
(`atom:link rel="self"`, JSON Feed's `feed_url`) counts on its own host only
(bot.ingest.urls.own_address).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.ingest.discover import discover_feeds
from bot.ingest.errors import NO_FEED_AT, FeedError, NotAFeedError
from bot.ingest.fetch import FeedFetcher, FetchResult
from bot.ingest.pipeline import FeedPipeline, PollOutcome
from bot.ingest.sandbox import parse_feed_bounded
from bot.ingest.timing import next_slot
from bot.ingest.urls import InvalidURLError, normalize_feed_url, own_address
from bot.model import EnrichedItem, FeedRow, ParsedFeed
from bot.store import Store
from bot.text.enrich import enrich_entries


class BadFeedURLError(FeedError):
    """What the person typed is not a usable URL."""


@dataclass(frozen=True, slots=True)
class AddedFeed:
    feed: FeedRow
    created: bool  # False: the feed was already archived (no fetch was made)
    outcome: PollOutcome | None  # the first poll, for a new feed
    # Found at another address than the one given (the page's feed, the usual /feed paths,
    # a redirect): say which feed that is.
    discovered: bool = False


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """A fetched (or read) feed, parsed: what `preview` shows."""

    url: str
    parsed: ParsedFeed
    result: FetchResult | None


async def fetch_feed_document(fetcher: FeedFetcher, url_text: str) -> FeedDocument:
    """Fetch a feed URL or a site URL (discovering its feed) and parse it.

    Raises a FeedError subclass whose message is meant for the person who typed the URL.
    """
    url = _typed_url(url_text)
    result = await fetcher.fetch(url)
    try:
        return await _parsed(result)
    except NotAFeedError:
        candidates = await discover_feeds(fetcher, result)
    last_error: FeedError | None = None
    for found in candidates[:3]:  # as discovery fetched them: no second fetch, no new wait
        try:
            return await _parsed(found)
        except FeedError as exc:
            last_error = exc
    raise last_error or NotAFeedError(NO_FEED_AT.format(url=url))


def _typed_url(url_text: str) -> str:
    try:
        return normalize_feed_url(url_text)
    except InvalidURLError as exc:
        raise BadFeedURLError(str(exc)) from None


async def _parsed(result: FetchResult) -> FeedDocument:
    parsed = await asyncio.to_thread(parse_feed_bounded, result.body, result.headers, result.url)
    return FeedDocument(normalize_feed_url(result.url), parsed, result)


async def known_copy(store: Store, urls: Sequence[str]) -> FeedRow | None:
    """The archived feed at any of `urls` (normalized), or None."""
    for url in urls:
        if (row := await store.feeds.by_url(url)) is not None:
            return row
    wanted = set(urls)
    # Only when the exact lookups miss, i.e. once per feed that is really new: O(feeds).
    return next((row for row in await store.feeds.all() if _normalized(row.url) in wanted), None)


def claimed_address(parsed: ParsedFeed, fetched_url: str) -> str | None:
    """The address the feed names as its own, normalized, when it differs from where it was
    fetched and is on the same host; None otherwise."""
    own = own_address(parsed.self_url, fetched_url)
    return own if own is not None and own != fetched_url else None


def _normalized(url: str) -> str | None:
    try:
        return normalize_feed_url(url)
    except InvalidURLError:
        return None


def read_feed_file(path: Path) -> FeedDocument:
    parsed = parse_feed_bounded(path.read_bytes(), {}, None)
    return FeedDocument(path.resolve().as_uri(), parsed, None)


def enrich_document(document: FeedDocument) -> list[EnrichedItem]:
    parsed = document.parsed
    return enrich_entries(
        parsed.entries,
        feed_language=parsed.language,
        base_url=parsed.site_url or (document.result.url if document.result else None),
    )


class FeedService:
    """Feeds in the archive: add (with discovery and a first poll), find, list."""

    def __init__(
        self,
        store: Store,
        fetcher: FeedFetcher,
        pipeline: FeedPipeline,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        on_feed_added: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._pipeline = pipeline
        self._settings = settings
        self._clock = clock
        self._on_feed_added = on_feed_added
        self._adding: dict[str, asyncio.Lock] = {}

    async def add(self, url_text: str) -> AddedFeed:
        """The feed behind `url_text`, archived with its current items.

        An already-known feed is returned at once; a new one is fetched (discovering the feed
        of a site URL), stored, and its current items archived — they are not "new".
        """
        url = _typed_url(url_text)
        lock = self._adding.setdefault(url, asyncio.Lock())
        async with lock:
            existing = await known_copy(self._store, [url])
            if existing is not None:
                return AddedFeed(existing, False, None, existing.url != url)
            document = await fetch_feed_document(self._fetcher, url)
            claimed = claimed_address(document.parsed, document.url)
            existing = await known_copy(self._store, [document.url, *filter(None, [claimed])])
            if existing is not None:
                return AddedFeed(existing, False, None, True)
            if claimed is not None:
                document = await self._at_own_address(document, claimed)
                existing = await known_copy(self._store, [document.url])
                if existing is not None:  # its own address redirects to a feed we have
                    return AddedFeed(existing, False, None, True)
            discovered = document.url != url
            now = self._clock()
            interval = self._settings.poll_interval_s
            feed = await self._store.feeds.add(
                document.url,
                interval_s=interval,
                now=now,
                first_poll_at=next_slot(document.url, interval, now),
            )
            assert document.result is not None
            outcome = await self._pipeline.ingest(feed, document.result)
            self._on_feed_added()  # the poller may be asleep with nothing to poll
            refreshed = await self._store.feeds.get(feed.id)
            return AddedFeed(refreshed or feed, True, outcome, discovered)

    async def _at_own_address(self, document: FeedDocument, claimed: str) -> FeedDocument:
        """The feed as fetched from the address it names as its own, so that every alias of
        it is stored (and found) as that one; `document` when that address does not serve a
        feed that names itself so (a stale self link)."""
        try:
            own = await fetch_feed_document(self._fetcher, claimed)
        except FeedError:
            return document
        return own if own_address(own.parsed.self_url, own.url) == own.url else document
