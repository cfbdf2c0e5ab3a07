"""Feed discovery from a site's page, against the loopback feed server."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from bot.config import FetchAllowList, Settings
from bot.features.feeds.service import fetch_feed_document
from bot.ingest import discover
from bot.ingest.discover import discover_feeds, looks_like_feed
from bot.ingest.errors import DiscoveryError
from bot.ingest.fetch import FeedFetcher, FetchResult
from tests.feedserver import (
    FeedServer,
    atom_feed,
    drip_handler,
    rdf_feed,
    redirect_to,
    rss_feed,
)

SETTINGS = Settings(fetch_allow=FetchAllowList.parse("127.0.0.1/32"))
FEED = rss_feed([{"title": "Post", "link": "https://example.com/p", "guid": "p"}])


def page(head: str = "", body: str = "<p>Welcome to my newsletter</p>") -> str:
    return f"<!doctype html><html><head><title>Site</title>{head}</head><body>{body}</body></html>"


def test_sniffing_tells_feeds_from_pages() -> None:
    assert looks_like_feed(FEED.encode())
    assert looks_like_feed(atom_feed().encode())
    assert looks_like_feed(rdf_feed().encode())
    assert looks_like_feed(b"\xef\xbb\xbf  <rss version='2.0'><channel/></rss>")
    assert not looks_like_feed(page().encode())
    assert not looks_like_feed(page(body="<pre>&lt;rss&gt; <feed> example</pre>").encode())
    assert looks_like_feed(b'{"version": "https://jsonfeed.org/version/1.1"}')
    assert not looks_like_feed(b'{"version": "2.0"}')
    assert not looks_like_feed(b"")


async def discover_feed_urls(fetcher: FeedFetcher, url: str, **kwargs: Any) -> list[str]:
    """The URLs of the feeds discovery found from the page at `url` (it returns them as
    fetched)."""
    page = await fetcher.fetch(url)
    return [found.url for found in await discover_feeds(fetcher, page, **kwargs)]


async def test_link_rel_alternate_with_relative_href(feed_server: FeedServer) -> None:
    feed_server.set(
        "/blog/",
        page(
            '<link rel="stylesheet" href="/style.css">'
            '<link rel="alternate" type="application/rss+xml" title="RSS" href="posts.xml">'
            '<link rel="alternate" type="application/atom+xml" href="/atom">'
            '<link rel="alternate" type="application/rss+xml" href="posts.xml">'
        ),
        content_type="text/html; charset=utf-8",
    )
    feed_server.set("/blog/posts.xml", FEED)
    feed_server.set("/atom", atom_feed([{"title": "A", "link": "https://e.com/a", "id": "a"}]))
    async with FeedFetcher(SETTINGS) as fetcher:
        found = await discover_feed_urls(fetcher, feed_server.url("/blog/"))
    assert found == [feed_server.url("/blog/posts.xml"), feed_server.url("/atom")]
    assert feed_server.hits("/feed") == 0  # links found: no probing


async def test_base_href_and_a_page_already_fetched(feed_server: FeedServer) -> None:
    feed_server.set(
        "/",
        page('<base href="/sub/"><link rel="Alternate Home" type="application/atom+xml" href="f">'),
        content_type="text/html",
    )
    feed_server.set("/sub/f", atom_feed())
    async with FeedFetcher(SETTINGS) as fetcher:
        found = await discover_feed_urls(fetcher, feed_server.url("/"))
    assert found == [feed_server.url("/sub/f")]
    assert feed_server.hits("/") == 1


async def test_usual_path_is_probed_when_the_page_links_nothing(feed_server: FeedServer) -> None:
    feed_server.set("/", page(), content_type="text/html")
    feed_server.set("/rss", "<html><body>not a feed</body></html>", content_type="text/html")
    feed_server.set("/feed.xml", FEED)
    async with FeedFetcher(SETTINGS) as fetcher:
        found = await discover_feed_urls(fetcher, feed_server.url("/"))
    assert found == [feed_server.url("/feed.xml")]
    assert feed_server.hits("/feed") == 1  # probed, 404
    assert feed_server.hits("/rss") == 1  # probed, not a feed
    assert feed_server.hits("/atom.xml") == 0  # stopped at the first feed


async def test_a_probe_that_redirects_reports_the_final_url(feed_server: FeedServer) -> None:
    feed_server.set("/", page(), content_type="text/html")
    feed_server.set_handler("/feed", redirect_to("/feeds/main.xml", 301))
    feed_server.set("/feeds/main.xml", rdf_feed())
    async with FeedFetcher(SETTINGS) as fetcher:
        found = await discover_feed_urls(fetcher, feed_server.url("/"))
    assert found == [feed_server.url("/feeds/main.xml")]


async def test_a_feed_url_discovers_itself(feed_server: FeedServer) -> None:
    feed_server.set("/feed", FEED)
    async with FeedFetcher(SETTINGS) as fetcher:
        assert await discover_feed_urls(fetcher, feed_server.url("/feed")) == [
            feed_server.url("/feed")
        ]


async def test_nothing_found_is_a_discovery_error(feed_server: FeedServer) -> None:
    """The admin is told, in one line, each address tried and why it was no feed."""
    feed_server.set("/", page(), content_type="text/html")
    feed_server.set("/rss", page(), content_type="text/html")
    feed_server.set("/atom.xml", "gone", status=410, content_type="text/plain")
    async with FeedFetcher(SETTINGS) as fetcher:
        with pytest.raises(DiscoveryError, match="no RSS or Atom feed found") as info:
            await discover_feed_urls(fetcher, feed_server.url("/"))
    assert feed_server.hits("/index.xml") == 1  # every usual path was tried
    message = str(info.value)
    assert "tried 6 addresses within 40 s: /feed 404, /rss not a feed, /feed.xml 404, " in message
    assert "/atom.xml 410" in message
    assert "\n" not in message


@pytest.mark.timeout(30)
async def test_dripping_candidates_share_one_budget(feed_server: FeedServer) -> None:
    """Candidates that each drip for longer than the fetch cap used to be fetched one after the
    other, each given the whole cap: minutes for one `/feed add`. Now all probing shares one
    budget (1 s here, against a 30 s fetch cap): discovery gives up in time and names each
    candidate with what became of it."""
    slow = drip_handler([b"<rss>", b"</rss>"], delay_s=120)
    feed_server.set(
        "/",
        page(
            '<link rel="alternate" type="application/rss+xml" href="/a.xml">'
            '<link rel="alternate" type="application/atom+xml" href="/b.xml">'
        ),
        content_type="text/html",
    )
    for path in ("/a.xml", "/b.xml", *discover.COMMON_FEED_PATHS):
        feed_server.set_handler(path, slow)
    settings = Settings(fetch_allow=SETTINGS.fetch_allow, fetch_timeout_s=30.0)
    async with FeedFetcher(settings) as fetcher:
        with pytest.raises(DiscoveryError) as info:
            await discover_feed_urls(fetcher, feed_server.url("/"), budget_s=1.0)
    message = str(info.value)
    assert "tried 8 addresses within 1 s: /a.xml timed out, /b.xml timed out, /feed " in message
    for path in discover.COMMON_FEED_PATHS:
        assert f"{path} timed out" in message or f"{path} not tried" in message


async def test_discovery_never_follows_to_a_blocked_address(feed_server: FeedServer) -> None:
    async with FeedServer(host="::1") as inner:
        inner.set("/feed", FEED)
        feed_server.set(
            "/",
            page(
                f'<link rel="alternate" type="application/rss+xml" href="{inner.url("/feed")}">'
                '<link rel="alternate" type="application/rss+xml" href="http://10.0.0.1/feed">'
            ),
            content_type="text/html",
        )
        feed_server.set_handler("/feed", redirect_to(f"http://127.0.0.2:{feed_server.port}/x"))
        async with FeedFetcher(SETTINGS) as fetcher:
            with pytest.raises(DiscoveryError, match=r"refused.*loopback"):
                await discover_feed_urls(fetcher, feed_server.url("/"))
        assert inner.hits("/feed") == 0
    assert feed_server.hits("/feed") == 1  # the probe was answered, its redirect was not followed


async def test_the_page_is_parsed_off_the_event_loop(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member's page may be a megabyte of HTML (most of a second in html.parser): the link
    scan runs in a worker thread, so the bot's event loop keeps answering meanwhile."""
    threads: list[threading.Thread] = []
    real = discover.feed_links

    def recording(fetched: FetchResult) -> list[str]:
        threads.append(threading.current_thread())
        return real(fetched)

    monkeypatch.setattr(discover, "feed_links", recording)
    feed_server.set("/posts.xml", FEED)
    feed_server.set(
        "/",
        page('<link rel="alternate" type="application/rss+xml" href="/posts.xml">'),
        content_type="text/html",
    )
    async with FeedFetcher(SETTINGS) as fetcher:
        found = await discover_feed_urls(fetcher, feed_server.url("/"))
    assert found == [feed_server.url("/posts.xml")]
    assert threads and threading.main_thread() not in threads


def test_links_urllib_cannot_split_are_skipped() -> None:
    """A hostile page's broken hrefs (unclosed IPv6 bracket, in a link or in <base>) are
    skipped: they must not turn discovery into an unexpected error."""
    body = page(
        '<link rel="alternate" type="application/rss+xml" href="http://[::1/feed">'
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        '<link rel="alternate" type="application/atom+xml" href="/atom">'
    ).encode()
    fetched = FetchResult(
        "https://site.example/", 200, False, body, "text/html", {}, None, None, None, None, None
    )
    assert discover.feed_links(fetched) == ["https://site.example/atom"]
    with_base = page(
        '<base href="http://[bad/"><link rel="alternate" type="application/rss+xml" href="/f">'
    ).encode()
    fetched = dataclasses.replace(fetched, body=with_base)
    assert discover.feed_links(fetched) == ["https://site.example/f"]


async def test_a_discovered_feed_is_fetched_once(feed_server: FeedServer) -> None:
    """What discovery fetched is what gets parsed: no second fetch (and no second wait of up
    to the fetch time cap) after the one budget of discovery."""
    feed_server.set(
        "/",
        page('<link rel="alternate" type="application/rss+xml" href="/posts.xml">'),
        content_type="text/html; charset=utf-8",
    )
    feed_server.set("/posts.xml", FEED)
    async with FeedFetcher(SETTINGS) as fetcher:
        document = await fetch_feed_document(fetcher, feed_server.url("/"))
    assert document.url == feed_server.url("/posts.xml")
    assert [entry.title for entry in document.parsed.entries] == ["Post"]
    assert feed_server.hits("/posts.xml") == 1
