"""One feed is one feed: which archived feed an address (or a fetched document) already is.

Addresses are compared normalized (bot.ingest.urls: case, default port, tracking parameters,
repeated slashes). Rows stored before a normalization rule existed keep their URL (they are
polled as they always were), so a lookup that misses by exact URL compares the normalized
form of every stored URL too. A feed's own word about its address (`atom:link rel="self"`,
JSON Feed's `feed_url`) counts on its own host only (bot.ingest.urls.own_address).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.ingest.urls import InvalidURLError, normalize_feed_url, own_address
from bot.model import FeedRow, ParsedFeed
from bot.store import Store


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
