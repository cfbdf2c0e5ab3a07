"""Feed discovery: from a site URL (a Substack home page, a blog) to the URLs of its feeds.

First the page's `<link rel="alternate">` tags of RSS or Atom type, then the usual feed paths
of the site. Every candidate is fetched through the same FeedFetcher (same address guard and
caps) and kept only if its body looks like a feed, so a link to a blocked address is dropped.
"""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from bot.ingest.errors import BlockedAddressError, DiscoveryError, FetchError
from bot.ingest.fetch import HTML_ACCEPT, FeedFetcher, FetchResult

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
COMMON_FEED_PATHS = ("/feed", "/rss", "/feed.xml", "/atom.xml", "/rss.xml", "/index.xml")

_MAX_HTML_CHARS = 1 << 20  # <link> tags live in <head>; no need to parse a whole huge page
_MAX_LINKS = 5
_FEED_ROOT = re.compile(rb"<(?:[a-z0-9_-]+:)?(rss|feed|rdf:rdf)[\s>/]")
_HTML_ROOT = re.compile(rb"<html[\s>]")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


def looks_like_feed(body: bytes) -> bool:
    """Sniff the first bytes: an `<rss`, `<feed` or `<rdf:RDF` root before any `<html`."""
    head = body[:4096].lower()
    feed = _FEED_ROOT.search(head)
    if feed is None:
        return False
    page = _HTML_ROOT.search(head)
    return page is None or page.start() > feed.start()


class _FeedLinkParser(HTMLParser):
    """Collects `<base href>` and the hrefs of `<link rel="alternate">` tags of feed type."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"].strip()
        elif tag == "link":
            rels = values.get("rel", "").lower().split()
            kind = values.get("type", "").split(";", 1)[0].strip().lower()
            href = values.get("href", "").strip()
            if "alternate" in rels and kind in FEED_TYPES and href:
                self.links.append(href)


def _decode(page: FetchResult) -> str:
    charset = "utf-8"
    match = _CHARSET.search(page.content_type or "")
    if match:
        charset = match.group(1)
    try:
        return page.body[: _MAX_HTML_CHARS * 4].decode(charset, errors="replace")
    except LookupError:
        return page.body[: _MAX_HTML_CHARS * 4].decode("utf-8", errors="replace")


def feed_links(page: FetchResult) -> list[str]:
    """The absolute http(s) URLs of the feeds a page links to, in page order, without repeats."""
    parser = _FeedLinkParser()
    parser.feed(_decode(page)[:_MAX_HTML_CHARS])
    parser.close()
    base = (_join(page.url, parser.base) if parser.base else None) or page.url
    found: list[str] = []
    for href in parser.links:
        url = _join(base, href)
        if url is not None and url not in found:
            found.append(url)
    return found


def _join(base: str, href: str) -> str | None:
    """`href` made absolute against `base` if it is an http(s) URL; None for anything else,
    including what urllib cannot split (an unclosed IPv6 bracket: hostile pages have them)."""
    try:
        url = urljoin(base, href)
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


async def _is_feed(fetcher: FeedFetcher, url: str, blocked: list[str]) -> str | None:
    """The final URL of `url` if it serves a feed; otherwise None. Refused addresses are noted."""
    try:
        result = await fetcher.fetch(url)
    except BlockedAddressError as exc:
        blocked.append(str(exc))
        return None
    except FetchError:
        return None
    return result.url if looks_like_feed(result.body) else None


async def discover_feed_urls(
    fetcher: FeedFetcher, page_url: str, page: FetchResult | None = None
) -> list[str]:
    """The feed URLs of the site at `page_url` (best first); raise DiscoveryError if none.

    `page` is the already fetched page, if the caller has it. When `page_url` is itself a feed,
    that is the answer. Fetch errors of the page itself propagate (FetchError subclasses).
    """
    if page is None:
        page = await fetcher.fetch(page_url, accept=HTML_ACCEPT)
    if looks_like_feed(page.body):
        return [page.url]
    blocked: list[str] = []
    found: list[str] = []
    # Up to a megabyte of HTML takes html.parser most of a second: not on the event loop.
    links = await asyncio.to_thread(feed_links, page)
    for link in links[:_MAX_LINKS]:
        url = await _is_feed(fetcher, link, blocked)
        if url is not None and url not in found:
            found.append(url)
    if found:
        return found
    parts = urlsplit(page.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    for path in COMMON_FEED_PATHS:
        url = await _is_feed(fetcher, origin + path, blocked)
        if url is not None:
            return [url]
    detail = f"; one candidate was refused: {blocked[0]}" if blocked else ""
    raise DiscoveryError(
        f"no RSS or Atom feed found at {page_url}: the page links to none and none of "
        f"{', '.join(COMMON_FEED_PATHS)} serves one; give the feed's own address{detail}"
    )
