"""FeedFetcher against the loopback feed server: caching, redirects, caps and refusals."""

from __future__ import annotations

import asyncio
import socket
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot import USER_AGENT
from bot.config import FetchAllowList, Settings
from bot.ingest.errors import (
    BlockedAddressError,
    ConnectError,
    FetchTimeoutError,
    HTTPStatusError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    UnsupportedSchemeError,
)
from bot.ingest.fetch import FeedFetcher, parse_max_age, parse_retry_after
from tests.feedserver import (
    FeedServer,
    drip_handler,
    gzip_handler,
    redirect_to,
    rss_feed,
)

ALLOW_TEST_SERVER = Settings(fetch_allow=FetchAllowList.parse("127.0.0.1/32"))
FEED = rss_feed([{"title": "Hello", "link": "https://example.com/1", "guid": "1"}])
MiB = 1024 * 1024


async def test_plain_fetch_returns_body_headers_and_hash(feed_server: FeedServer) -> None:
    feed_server.set("/feed", FEED, headers={"Cache-Control": "public, max-age=600"})
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        result = await fetcher.fetch(feed_server.url("/feed"))
    assert result.status == 200
    assert not result.not_modified
    assert result.body == FEED.encode()
    assert result.url == feed_server.url("/feed")
    assert result.content_type == "application/rss+xml"
    assert result.headers["cache-control"] == "public, max-age=600"
    assert result.max_age_s == 600.0
    assert result.body_hash is not None and len(result.body_hash) == 64
    sent = feed_server.requests("/feed")[0]
    assert sent["User-Agent"] == USER_AGENT
    assert "application/rss+xml" in sent["Accept"]


async def test_etag_gives_304_with_empty_body(feed_server: FeedServer) -> None:
    feed_server.set("/feed", FEED, etag='"v1"')
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        first = await fetcher.fetch(feed_server.url("/feed"))
        assert first.etag == '"v1"'
        second = await fetcher.fetch(feed_server.url("/feed"), etag=first.etag)
        feed_server.set("/feed", FEED + " ", etag='"v2"')
        third = await fetcher.fetch(feed_server.url("/feed"), etag=first.etag)
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    assert second.body_hash is None
    assert feed_server.requests("/feed")[1]["If-None-Match"] == '"v1"'
    assert third.status == 200 and third.etag == '"v2"'
    assert third.body_hash != first.body_hash


async def test_last_modified_gives_304(feed_server: FeedServer) -> None:
    stamp = "Mon, 01 Jan 2024 10:00:00 GMT"
    feed_server.set("/feed", FEED, last_modified=stamp)
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        first = await fetcher.fetch(feed_server.url("/feed"))
        assert first.last_modified == stamp
        second = await fetcher.fetch(feed_server.url("/feed"), last_modified=stamp)
    assert second.not_modified and second.status == 304
    assert feed_server.requests("/feed")[1]["If-Modified-Since"] == stamp


async def test_same_body_gives_same_hash(feed_server: FeedServer) -> None:
    feed_server.set("/feed", FEED)
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        one = await fetcher.fetch(feed_server.url("/feed"))
        two = await fetcher.fetch(feed_server.url("/feed"))
    assert one.body_hash == two.body_hash


async def test_redirect_chain_of_every_kind_is_followed(feed_server: FeedServer) -> None:
    feed_server.set_handler("/a", redirect_to(feed_server.url("/b"), 301))
    feed_server.set_handler("/b", redirect_to("/c", 302))  # relative Location
    feed_server.set_handler("/c", redirect_to("d", 307))
    feed_server.set_handler("/d", redirect_to(feed_server.url("/e"), 308))
    feed_server.set_handler("/e", redirect_to("/feed", 303))
    feed_server.set("/feed", FEED)
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        result = await fetcher.fetch(feed_server.url("/a"))
    assert result.url == feed_server.url("/feed")
    assert result.body == FEED.encode()
    assert [feed_server.hits(p) for p in ("/a", "/b", "/c", "/d", "/e", "/feed")] == [1] * 6


async def test_redirect_loop_is_refused(feed_server: FeedServer) -> None:
    feed_server.set_handler("/a", redirect_to("/b"))
    feed_server.set_handler("/b", redirect_to("/a"))
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(TooManyRedirectsError, match="loop"):
            await fetcher.fetch(feed_server.url("/a"))
    assert feed_server.hits("/a") == 1


async def test_more_than_five_redirects_are_refused(feed_server: FeedServer) -> None:
    for hop in range(6):
        feed_server.set_handler(f"/hop{hop}", redirect_to(f"/hop{hop + 1}"))
    feed_server.set("/hop6", FEED)
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(TooManyRedirectsError, match="more than 5"):
            await fetcher.fetch(feed_server.url("/hop0"))
        assert feed_server.hits("/hop6") == 0
        five = await fetcher.fetch(feed_server.url("/hop1"))  # 5 redirects is within the cap
    assert five.url == feed_server.url("/hop6")


async def test_redirect_to_loopback_outside_the_allow_list_is_blocked(
    feed_server: FeedServer,
) -> None:
    async with FeedServer(host="::1") as v6_server:
        v6_server.set("/feed", FEED)
        feed_server.set_handler("/to-v4", redirect_to(f"http://127.0.0.2:{feed_server.port}/feed"))
        feed_server.set_handler("/to-v6", redirect_to(v6_server.url("/feed")))
        feed_server.set("/feed", FEED)
        async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
            with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2.*loopback"):
                await fetcher.fetch(feed_server.url("/to-v4"))
            with pytest.raises(BlockedAddressError, match=r"::1.*loopback"):
                await fetcher.fetch(feed_server.url("/to-v6"))
        assert v6_server.hits("/feed") == 0
    assert feed_server.hits("/feed") == 0


async def test_hostname_resolving_to_loopback_is_blocked_unless_allowed(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/feed", FEED)
    url = f"http://localhost:{feed_server.port}/feed"
    for refused in (Settings(), Settings(fetch_allow=FetchAllowList.parse("other.example"))):
        async with FeedFetcher(refused) as fetcher:
            with pytest.raises(BlockedAddressError, match=r"localhost resolves to 127\.0\.0\.1"):
                await fetcher.fetch(url)
    assert feed_server.hits("/feed") == 0
    # allowed by network (localhost resolves to 127.0.0.1 here) or by host name
    for allowed in ("127.0.0.1/32", "localhost"):
        settings = Settings(fetch_allow=FetchAllowList.parse(allowed))
        async with FeedFetcher(settings) as fetcher:
            assert (await fetcher.fetch(url)).body == FEED.encode()
    assert feed_server.hits("/feed") == 2


class RebindingResolver(AbstractResolver):
    """First answers loopback (allowed in the test), then a private address: DNS rebinding."""

    def __init__(self) -> None:
        self.answers = ["127.0.0.1", "10.0.0.1"]

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        ip = self.answers.pop(0)
        return [
            ResolveResult(
                hostname=host, host=ip, port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


async def test_dns_rebinding_is_caught_at_the_second_lookup(feed_server: FeedServer) -> None:
    feed_server.set("/feed", FEED)
    resolver = RebindingResolver()
    url = f"http://rebind.example:{feed_server.port}/feed"
    async with FeedFetcher(ALLOW_TEST_SERVER, resolver=resolver) as fetcher:
        assert (await fetcher.fetch(url)).body == FEED.encode()
    async with FeedFetcher(ALLOW_TEST_SERVER, resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError, match=r"rebind\.example resolves to 10\.0\.0\.1"):
            await fetcher.fetch(url)
    assert feed_server.hits("/feed") == 1


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/feed.xml",
        "gopher://example.com/",
        "javascript:alert(1)",
        "example.com/feed",
        "http:///feed",
    ],
)
async def test_only_http_and_https_are_fetched(url: str) -> None:
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(UnsupportedSchemeError, match="http"):
            await fetcher.fetch(url)


async def test_redirect_to_file_url_is_refused(feed_server: FeedServer) -> None:
    feed_server.set_handler("/feed", redirect_to("file:///etc/passwd"))
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(UnsupportedSchemeError, match="file://"):
            await fetcher.fetch(feed_server.url("/feed"))


@pytest.mark.parametrize(
    ("status", "words"), [(404, "404 Not Found"), (500, "500 Internal Server Error")]
)
async def test_error_status_is_a_typed_error_in_words(
    feed_server: FeedServer, status: int, words: str
) -> None:
    feed_server.set("/feed", "nope", status=status, content_type="text/plain")
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(HTTPStatusError) as info:
            await fetcher.fetch(feed_server.url("/feed"))
    assert info.value.status == status
    assert f"the server answered {words}" in str(info.value)
    assert info.value.retry_after is None


async def test_429_and_503_carry_retry_after(feed_server: FeedServer) -> None:
    feed_server.set("/slow-down", "", status=429, headers={"Retry-After": "120"})
    later = datetime.now(UTC) + timedelta(seconds=300)
    feed_server.set("/down", "", status=503, headers={"Retry-After": format_datetime(later, True)})
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(HTTPStatusError) as too_many:
            await fetcher.fetch(feed_server.url("/slow-down"))
        with pytest.raises(HTTPStatusError) as unavailable:
            await fetcher.fetch(feed_server.url("/down"))
    assert too_many.value.status == 429
    assert too_many.value.retry_after == 120.0
    assert "wait 120 s" in str(too_many.value)
    assert unavailable.value.status == 503
    assert unavailable.value.retry_after is not None
    assert 290 <= unavailable.value.retry_after <= 300


def test_retry_after_and_max_age_parsing() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:00 GMT", now) == 60.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_max_age("public, max-age=3600") == 3600.0
    assert parse_max_age('max-age="60", must-revalidate') == 60.0
    assert parse_max_age("s-maxage=10, no-cache") is None
    assert parse_max_age(None) is None


async def test_50_mib_stream_stops_at_the_10_mib_cap(feed_server: FeedServer) -> None:
    sent = 0
    finished = asyncio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        chunk = b"<rss>" + b"x" * (MiB - 5)
        try:
            for _ in range(50):
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            finished.set()
        return response

    feed_server.set_handler("/huge", huge)
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(ResponseTooLargeError, match="larger than 10 MiB"):
            await fetcher.fetch(feed_server.url("/huge"))
    await asyncio.wait_for(finished.wait(), 10)
    assert sent < 40 * MiB  # the client hung up long before the end


async def test_declared_length_over_the_cap_is_refused_before_reading(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/big", b"x" * (2 * MiB))
    allow = ALLOW_TEST_SERVER.fetch_allow
    async with FeedFetcher(Settings(fetch_allow=allow, fetch_max_bytes=MiB)) as fetcher:
        with pytest.raises(ResponseTooLargeError, match="larger than 1 MiB"):
            await fetcher.fetch(feed_server.url("/big"))
    async with FeedFetcher(Settings(fetch_allow=allow, fetch_max_bytes=3 * MiB)) as fetcher:
        small = await fetcher.fetch(feed_server.url("/big"))
    assert len(small.body) == 2 * MiB


def _gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    parts = [compressor.compress(zeros) for _ in range(size // MiB)]
    parts.append(compressor.flush())
    return b"".join(parts)


async def test_gzip_bomb_stops_at_the_cap_after_decompression(feed_server: FeedServer) -> None:
    bomb = _gzip_bomb(64 * MiB)
    assert len(bomb) < MiB  # small on the wire, 64 MiB once inflated

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
        )

    feed_server.set_handler("/bomb", handler)
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        with pytest.raises(ResponseTooLargeError, match="larger than 10 MiB"):
            await fetcher.fetch(feed_server.url("/bomb"))


async def test_gzip_and_deflate_bodies_are_decompressed(feed_server: FeedServer) -> None:
    feed_server.set_handler("/gz", gzip_handler(FEED.encode()))
    feed_server.set(
        "/deflate", zlib.compress(FEED.encode()), headers={"Content-Encoding": "deflate"}
    )
    feed_server.set("/broken", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    async with FeedFetcher(ALLOW_TEST_SERVER) as fetcher:
        assert (await fetcher.fetch(feed_server.url("/gz"))).body == FEED.encode()
        assert (await fetcher.fetch(feed_server.url("/deflate"))).body == FEED.encode()
        with pytest.raises(Exception, match="broken compressed body"):
            await fetcher.fetch(feed_server.url("/broken"))
    assert "gzip" in feed_server.requests("/gz")[0]["Accept-Encoding"]


async def test_slow_drip_hits_the_time_cap(feed_server: FeedServer) -> None:
    feed_server.set_handler("/drip", drip_handler([b"<rss>"] + [b" "] * 20, delay_s=0.25))
    settings = Settings(fetch_allow=FetchAllowList.parse("127.0.0.1/32"), fetch_timeout_s=1)
    started = time.monotonic()
    async with FeedFetcher(settings) as fetcher:
        with pytest.raises(FetchTimeoutError, match="within 1 s"):
            await fetcher.fetch(feed_server.url("/drip"))
    assert time.monotonic() - started < 3


async def test_refused_connection_and_unknown_host_are_connect_errors() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there

    class NoSuchHost(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            raise OSError(f"no such host {host}")

        async def close(self) -> None:
            return None

    async with FeedFetcher(ALLOW_TEST_SERVER, resolver=NoSuchHost()) as fetcher:
        with pytest.raises(ConnectError, match="could not connect"):
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed")
        with pytest.raises(ConnectError, match="could not be found"):
            await fetcher.fetch("http://missing.example/feed")
