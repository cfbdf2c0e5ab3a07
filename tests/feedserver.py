"""A loopback HTTP server for tests: serves feeds and pages built inside each test.

    async with FeedServer() as server:
        server.set("/feed", rss_feed([{"title": "Hello", "link": "https://example.com/1"}]))
        url = server.url("/feed")

Or use the `feed_server` fixture. Custom behaviour (redirects, slow drips, gzip, …) goes in a
handler: `server.set_handler("/slow", drip_handler([b"<rss>", b"</rss>"], delay_s=2))`.
The builders `rss_feed`, `atom_feed` and `rdf_feed` write small feeds inline.
"""

from __future__ import annotations

import asyncio
import gzip
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self
from xml.sax.saxutils import escape, quoteattr

import pytest_asyncio
from aiohttp import web

from bot.model import FeedRow

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class _Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    handler: Handler | None = None


def _not_modified(route: _Route, request: web.Request) -> bool:
    if route.etag is not None:
        wanted = request.headers.get("If-None-Match")
        if wanted is not None:
            tags = {tag.strip() for tag in wanted.split(",")}
            return route.etag in tags or "*" in tags
    if route.last_modified is not None:
        since = request.headers.get("If-Modified-Since")
        if since is not None:
            try:
                return parsedate_to_datetime(since) >= parsedate_to_datetime(route.last_modified)
            except (TypeError, ValueError):
                return False
    return False


class FeedServer:
    """aiohttp.web on 127.0.0.1 (or `host`), random port; paths answer what the test sets."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._routes: dict[str, _Route] = {}
        self._hits: defaultdict[str, int] = defaultdict(int)
        self._requests: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def set(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = "application/rss+xml",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Serve `body` at `path`. With `etag`/`last_modified`, a matching conditional GET gets
        a 304 (the ETag and Last-Modified headers are sent with every answer)."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers.setdefault("Content-Type", content_type)
        if etag is not None:
            all_headers["ETag"] = etag
        if last_modified is not None:
            all_headers["Last-Modified"] = last_modified
        self._routes[path] = _Route(raw, status, all_headers, etag, last_modified)

    def set_handler(self, path: str, handler: Handler) -> None:
        """Answer `path` with a custom aiohttp handler."""
        self._routes[path] = _Route(handler=handler)

    def remove(self, path: str) -> None:
        """Stop serving `path` (it answers 404 again)."""
        self._routes.pop(path, None)

    def hits(self, path: str) -> int:
        """How many requests reached `path` (any status)."""
        return self._hits[path]

    def requests(self, path: str) -> list[dict[str, str]]:
        """The headers of each request to `path`, oldest first."""
        return list(self._requests[path])

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        key = request.path_qs if request.path_qs in self._routes else request.path
        self._hits[key] += 1
        self._requests[key].append(dict(request.headers))
        route = self._routes.get(key)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.handler is not None:
            return await route.handler(request)
        if route.status == 200 and _not_modified(route, request):
            keep = {k: v for k, v in route.headers.items() if k in ("ETag", "Last-Modified")}
            return web.Response(status=304, headers=keep)
        return web.Response(status=route.status, body=route.body, headers=route.headers)


@pytest_asyncio.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A started FeedServer on 127.0.0.1, closed after the test."""
    async with FeedServer() as server:
        yield server


# --- handlers for common behaviours -------------------------------------------------------------


def redirect_to(location: str, status: int = 302) -> Handler:
    """A handler answering with a redirect to `location`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


def drip_handler(
    chunks: Iterable[bytes], delay_s: float, content_type: str = "application/rss+xml"
) -> Handler:
    """A handler sending `chunks` one by one, sleeping `delay_s` before each."""
    parts = list(chunks)

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for part in parts:
            await asyncio.sleep(delay_s)
            await response.write(part)
        await response.write_eof()
        return response

    return handler


def gzip_handler(body: bytes, content_type: str = "application/rss+xml") -> Handler:
    """A handler sending `body` gzip-compressed with Content-Encoding: gzip."""
    compressed = gzip.compress(body)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=compressed,
            headers={"Content-Type": content_type, "Content-Encoding": "gzip"},
        )

    return handler


# --- feed builders -----------------------------------------------------------------------------

Item = Mapping[str, object]


def _text(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>" if value is not None else ""


def rss_feed(
    items: Sequence[Item] = (),
    *,
    title: str = "Test feed",
    link: str = "https://example.com/",
    description: str = "A feed built in a test",
    language: str | None = None,
    encoding: str = "utf-8",
    extra_channel: str = "",
) -> str:
    """An RSS 2.0 document. Item keys: title, link, guid, description, content (HTML, goes in
    content:encoded), pubDate, author, enclosure ({url, type, length}), duration
    (itunes:duration), image (media:thumbnail url), extra (raw XML)."""
    parts: list[str] = []
    for item in items:
        fields = [
            _text("title", item.get("title")),
            _text("link", item.get("link")),
            _text("guid", item.get("guid")),
            _text("description", item.get("description")),
            _text("content:encoded", item.get("content")),
            _text("pubDate", item.get("pubDate")),
            _text("author", item.get("author")),
            _text("itunes:duration", item.get("duration")),
        ]
        enclosure = item.get("enclosure")
        if isinstance(enclosure, Mapping):
            attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in enclosure.items())
            fields.append(f"<enclosure {attrs}/>")
        if item.get("image") is not None:
            fields.append(f"<media:thumbnail url={quoteattr(str(item['image']))}/>")
        fields.append(str(item.get("extra", "")))
        parts.append("<item>" + "".join(fields) + "</item>")
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"{_text('title', title)}{_text('link', link)}{_text('description', description)}"
        f"{_text('language', language)}{extra_channel}" + "".join(parts) + "</channel></rss>\n"
    )


def atom_feed(
    entries: Sequence[Item] = (),
    *,
    title: str = "Test feed",
    link: str = "https://example.com/",
    feed_id: str = "urn:test:feed",
    updated: str = "2024-01-01T00:00:00Z",
    subtitle: str | None = None,
) -> str:
    """An Atom 1.0 document. Entry keys: title, link, id, updated, published, summary,
    content (HTML), author, extra (raw XML)."""
    parts: list[str] = []
    for entry in entries:
        fields = [
            _text("title", entry.get("title")),
            f"<link href={quoteattr(str(entry['link']))}/>" if entry.get("link") else "",
            _text("id", entry.get("id")),
            _text("updated", entry.get("updated", updated)),
            _text("published", entry.get("published")),
            _text("summary", entry.get("summary")),
        ]
        if entry.get("content") is not None:
            fields.append(f'<content type="html">{escape(str(entry["content"]))}</content>')
        if entry.get("author") is not None:
            fields.append(f"<author>{_text('name', entry['author'])}</author>")
        fields.append(str(entry.get("extra", "")))
        parts.append("<entry>" + "".join(fields) + "</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"{_text('title', title)}{_text('subtitle', subtitle)}"
        f"<link href={quoteattr(link)}/>{_text('id', feed_id)}{_text('updated', updated)}"
        + "".join(parts)
        + "</feed>\n"
    )


def rdf_feed(
    items: Sequence[Item] = (),
    *,
    title: str = "Test feed",
    link: str = "https://example.com/",
    description: str = "A feed built in a test",
) -> str:
    """An RSS 1.0 (RDF) document. Item keys: title, link, description, date (dc:date),
    creator (dc:creator)."""
    parts: list[str] = []
    for item in items:
        about = quoteattr(str(item.get("link", "")))
        parts.append(
            f"<item rdf:about={about}>"
            f"{_text('title', item.get('title'))}{_text('link', item.get('link'))}"
            f"{_text('description', item.get('description'))}"
            f"{_text('dc:date', item.get('date'))}{_text('dc:creator', item.get('creator'))}"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel rdf:about={quoteattr(link)}>"
        f"{_text('title', title)}{_text('link', link)}{_text('description', description)}"
        "</channel>" + "".join(parts) + "</rdf:RDF>\n"
    )


def without_validators(feed: FeedRow) -> FeedRow:
    """`feed` as if never fetched (no ETag, Last-Modified or body hash): its next poll
    downloads and parses whatever the server sends now, unchanged or not."""
    return replace(feed, etag=None, last_modified=None, body_hash=None)
