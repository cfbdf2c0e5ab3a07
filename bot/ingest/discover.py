"""Feed discovery: from a site's page (a Substack home page, a blog) to its feeds.

First the page's `<link rel="alternate">` tags of feed type, then the site's usual feed paths.
Each candidate is fetched by the same FeedFetcher (same address guard and caps) and kept only if
its body looks like a feed. All the probing shares one time budget, so candidates that drip
cannot add up to minutes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.ingest.errors import (
    NOTHING_FOUND,
    NOTHING_FOUND_REFUSED,
    BlockedAddressError,
    DiscoveryError,
    FetchError,
)
from bot.ingest.fetch import FeedFetcher, FetchResult
from bot.ingest.jsonfeed import looks_like_json_feed
from bot.safe import archive_url
from bot.text.clean import parse_html

# JSON Feed 1.1 names application/feed+json, and asks readers to accept application/json too.
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
    }
)
COMMON_FEED_PATHS = ("/feed", "/rss", "/feed.xml", "/atom.xml", "/rss.xml", "/index.xml")

_MAX_HTML_CHARS = 1 << 20  # <link> tags live in <head>; no need to parse a whole huge page
_MAX_LINKS = 5
_MAX_LABEL = 60  # a candidate's URL as named in the failure message
_FEED_ROOT = re.compile(rb"<(?:[a-z0-9_-]+:)?(rss|feed|rdf:rdf)[\s>/]")
_HTML_ROOT = re.compile(rb"<html[\s>]")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


def looks_like_feed(body: bytes) -> bool:
    """Sniff the first bytes: a JSON Feed, or an `<rss`, `<feed` or `<rdf:RDF` root before
    any `<html`."""
    if looks_like_json_feed(body):
        return True
    head = body[:4096].lower()
    feed = _FEED_ROOT.search(head)
    if feed is None:
        return False
    page = _HTML_ROOT.search(head)
    return page is None or page.start() > feed.start()


def _decode(page: FetchResult) -> str:
    match = _CHARSET.search(page.content_type or "")
    head = page.body[: _MAX_HTML_CHARS * 4]
    try:
        return head.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return head.decode("utf-8", errors="replace")


def feed_links(page: FetchResult) -> list[str]:
    """The absolute http(s) URLs of the feeds a page links to, in page order, without repeats:
    the hrefs of `<link rel="alternate">` tags of feed type, against the page's `<base href>`."""
    root = parse_html(_decode(page)[:_MAX_HTML_CHARS])
    if root is None:
        return []
    base_href = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    base = archive_url(base_href, page.url) or page.url
    found: list[str] = []
    for link in root.iter("link"):
        rels = link.get("rel", "").lower().split()
        kind = link.get("type", "").split(";", 1)[0].strip().lower()
        url = archive_url(link.get("href"), base)
        if "alternate" in rels and kind in FEED_TYPES and url and url not in found:
            found.append(url)
    return found


@dataclass(slots=True)
class _Tried:
    """One candidate URL and what probing it gave."""

    url: str
    outcome: str  # short, for the admin: "404", "timed out", "not a feed", …
    feed: FetchResult | None = None  # the feed as fetched (not fetched again)
    refusal: str | None = None  # the guard's full sentence, when the address was refused


async def _probe(fetcher: FeedFetcher, url: str) -> _Tried:
    try:
        result = await fetcher.fetch(url)
    except FetchError as exc:
        refusal = str(exc) if isinstance(exc, BlockedAddressError) else None
        return _Tried(url, exc.brief, refusal=refusal)
    if looks_like_feed(result.body):
        return _Tried(url, "a feed", feed=result)
    return _Tried(url, "not a feed")


async def _probe_all(
    fetcher: FeedFetcher,
    urls: Sequence[str],
    deadline: float,
    *,
    stagger_s: float,
    first_only: bool,
) -> list[_Tried]:
    """Probe `urls` under one deadline; one _Tried per URL, in order. A probe starts every
    `stagger_s`, or at once when every started probe has finished (a quick site is probed one
    address at a time, a dripping one cannot hold up the rest). With `first_only`, probing stops
    at the first feed. Probes running at the deadline are cancelled, the rest not tried.
    """
    loop = asyncio.get_running_loop()
    tried: list[_Tried | None] = [None] * len(urls)
    running: dict[asyncio.Task[_Tried], int] = {}
    started = 0
    next_start = loop.time()
    try:
        while started < len(urls) or running:
            now = loop.time()
            if now >= deadline or (first_only and any(t and t.feed for t in tried)):
                break
            if started < len(urls) and (not running or now >= next_start):
                running[asyncio.create_task(_probe(fetcher, urls[started]))] = started
                started += 1
                next_start = now + stagger_s
                continue
            wake = min(deadline, next_start) if started < len(urls) else deadline
            done, _ = await asyncio.wait(
                running, timeout=max(0.0, wake - now), return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                tried[running.pop(task)] = task.result()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    for index in running.values():
        tried[index] = _Tried(urls[index], "timed out")
    return [t or _Tried(urls[i], "not tried (out of time)") for i, t in enumerate(tried)]


def _label(url: str, origin: str) -> str:
    """`url` as the admin reads it in the list: its path on the site's own origin, cut short."""
    own = url == origin or url.startswith(origin + "/")
    text = (url[len(origin) :] or "/") if own else url
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


async def discover_feeds(
    fetcher: FeedFetcher, page: FetchResult, *, budget_s: float | None = None
) -> list[FetchResult]:
    """The feeds of the site whose page is `page` (itself, if it is a feed), as fetched while
    probing, best first; a DiscoveryError lists every candidate tried and why it failed.

    Probing has one budget, `budget_s`: by default twice the fetch time cap, as it runs in two
    rounds (the page's links, then the usual paths) of fetches side by side, each needing about
    one fetch time; the links get the first half at most.
    """
    if looks_like_feed(page.body):
        return [page]
    budget = budget_s if budget_s is not None else 2 * fetcher.timeout_s
    loop = asyncio.get_running_loop()
    start = loop.time()
    # Up to a megabyte of hostile HTML: parsed in a thread, not on the event loop.
    links = (await asyncio.to_thread(feed_links, page))[:_MAX_LINKS]
    tried = await _probe_all(fetcher, links, start + budget / 2, stagger_s=0.0, first_only=False)
    found: dict[str, FetchResult] = {}
    for result in tried:
        if result.feed is not None:
            found.setdefault(result.feed.url, result.feed)
    if found:
        return list(found.values())
    parts = urlsplit(page.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    paths = [origin + path for path in COMMON_FEED_PATHS]
    stagger = max(0.0, start + budget - loop.time()) / (2 * len(paths))
    probed = await _probe_all(fetcher, paths, start + budget, stagger_s=stagger, first_only=True)
    if feed := next((t.feed for t in probed if t.feed), None):
        return [feed]
    tried += probed
    listed = ", ".join(f"{_label(t.url, origin)} {t.outcome}" for t in tried)
    refusal = next((t.refusal for t in tried if t.refusal), None)
    values = {"url": page.url, "count": len(tried), "seconds": f"{budget:g}", "tried": listed}
    template = NOTHING_FOUND_REFUSED if refusal else NOTHING_FOUND
    raise DiscoveryError(template.format(**values, refusal=refusal))
