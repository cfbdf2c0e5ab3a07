"""FeedFetcher: the bot's own HTTP client for feeds and pages, with the safety caps built in.

Every connection, redirect hops included, goes through the address guard at connect time after
DNS resolution (bot/ingest/guard.py). The body is capped after decompression while it streams,
the whole fetch (all hops and the body) is capped in time, and redirects are followed by hand so
each hop is checked and counted. Failures are the typed errors of bot/ingest/errors.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import http
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot import USER_AGENT
from bot.config import Settings
from bot.ingest.errors import (
    BAD_CERTIFICATE,
    BAD_REDIRECT,
    BROKE_OFF,
    BROKEN_COMPRESSION,
    CONNECTION_FAILED,
    DNS_FAILED,
    HTTP_MOVED,
    HTTP_PRIVATE,
    HTTP_STATUS,
    HTTP_WAIT,
    NO_CONNECTION,
    NO_HOST,
    NO_SCHEME,
    NOT_VALID_ADDRESS,
    READ_FAILED,
    REDIRECT_LOOP,
    REDIRECT_SCHEME,
    SLOW_ANSWER,
    TLS_FAILED,
    TOO_LARGE,
    TOO_MANY_REDIRECTS,
    UNASKED_ENCODING,
    WRONG_SCHEME,
    ConnectError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    UnsupportedSchemeError,
)
from bot.ingest.guard import GuardedResolver, current_host, guarded_socket_factory

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1"
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_STATUS_TEMPLATES = {404: HTTP_MOVED, 410: HTTP_MOVED, 401: HTTP_PRIVATE, 403: HTTP_PRIVATE}
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_DECOMPRESS_STEP = 1 << 20
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful fetch: a 200 with its body, or a 304 (`not_modified`, empty body)."""

    url: str  # final URL, after redirects
    status: int  # 200 (or another 2xx) or 304
    not_modified: bool
    body: bytes  # decompressed; empty for a 304
    content_type: str | None  # the full Content-Type header, charset included
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    etag: str | None
    last_modified: str | None
    body_hash: str | None  # sha256 hex of body; None for a 304
    max_age_s: float | None  # Cache-Control max-age
    retry_after_s: float | None  # Retry-After, in seconds from now


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Turn a Retry-After header (delay in seconds, or an HTTP date) into seconds from now."""
    text = (value or "").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    match = _MAX_AGE.search(cache_control or "")
    return float(match.group(1)) if match else None


def _size_words(size: int) -> str:
    mib = size / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{size / 1024:g} KiB"


class _CappedBody:
    """Collects a body through its Content-Encoding's decoders, refusing it past `limit` bytes."""

    def __init__(self, content_encoding: str, limit: int, url: str) -> None:
        self._limit = limit
        self._url = url
        self._chunks: list[bytes] = []
        self._size = 0
        named = (part.strip().lower() for part in reversed(content_encoding.split(",")))
        encodings = [e for e in named if e not in ("", "identity")]  # the last applied first
        if unknown := next((e for e in encodings if e not in _WBITS), None):
            raise FetchError(UNASKED_ENCODING.format(url=url, encoding=repr(unknown)))
        self._decoders = [zlib.decompressobj(_WBITS[encoding]) for encoding in encodings]

    def too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(TOO_LARGE.format(url=self._url, size=_size_words(self._limit)))

    def _run(self, index: int, data: bytes, final: bool) -> None:
        if index == len(self._decoders):
            self._size += len(data)
            if self._size > self._limit:
                raise self.too_large()
            self._chunks.append(data)
            return
        decoder = self._decoders[index]
        try:
            while data:
                out = decoder.decompress(data, _DECOMPRESS_STEP)
                data = decoder.unconsumed_tail
                if out:
                    self._run(index + 1, out, final=False)
            if final:
                self._run(index + 1, decoder.flush(), final=True)
        except zlib.error as exc:
            raise FetchError(BROKEN_COMPRESSION.format(url=self._url)) from exc

    def feed(self, data: bytes) -> None:
        self._run(0, data, final=False)

    def finish(self) -> bytes:
        self._run(0, b"", final=True)
        return b"".join(self._chunks)


def _check_scheme(url: URL, shown: str, redirected_from: URL | None = None) -> None:
    """Refuse anything but an absolute http(s) URL, named `shown` in the message."""
    if url.scheme not in ("http", "https"):
        if redirected_from is not None:
            raise UnsupportedSchemeError(
                REDIRECT_SCHEME.format(url=redirected_from, target=shown, scheme=f"{url.scheme}://")
            )
        if not url.scheme:
            raise UnsupportedSchemeError(NO_SCHEME.format(url=shown))
        raise UnsupportedSchemeError(WRONG_SCHEME.format(url=shown, scheme=f"{url.scheme}://"))
    if not url.host:
        raise UnsupportedSchemeError(NO_HOST.format(url=shown))


def _make_result(response: aiohttp.ClientResponse, url: str, body: bytes | None) -> FetchResult:
    # Lower-case names; a repeated header's values joined with ", ".
    headers = {name.lower(): ", ".join(response.headers.getall(name)) for name in response.headers}
    return FetchResult(
        url=url,
        status=response.status,
        not_modified=body is None,
        body=body or b"",
        content_type=headers.get("content-type"),
        headers=headers,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        body_hash=None if body is None else hashlib.sha256(body).hexdigest(),
        max_age_s=parse_max_age(headers.get("cache-control")),
        retry_after_s=parse_retry_after(headers.get("retry-after")),
    )


def _status_error(response: aiohttp.ClientResponse, url: str) -> HTTPStatusError:
    status = response.status
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason or "an unknown status"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    values: dict[str, object] = {"status": status, "phrase": phrase, "url": url}
    if status in (429, 503) and retry_after is not None:
        message = HTTP_WAIT.format(**values, seconds=f"{retry_after:g}")
    else:
        message = _STATUS_TEMPLATES.get(status, HTTP_STATUS).format(**values)
    return HTTPStatusError(message, status, retry_after)


class FeedFetcher:
    """Fetches feeds and pages over one aiohttp session, guarded and capped; `close()` it (or
    use `async with`). `resolver` replaces DNS (tests' stub), wrapped by the guard all the same.
    """

    def __init__(self, settings: Settings, *, resolver: AbstractResolver | None = None) -> None:
        self._settings = settings
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    @property
    def timeout_s(self) -> float:  # discovery budgets from it
        return self._settings.fetch_timeout_s

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            allow = self._settings.fetch_allow
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._resolver or aiohttp.ThreadedResolver(), allow),
                socket_factory=guarded_socket_factory(allow),
                happy_eyeballs_delay=None,  # so the socket gate's refusal is not swallowed
                limit=max(8, self._settings.poll_concurrency * 2),
                limit_per_host=0,  # per-host politeness is the poller's job (poll_per_host)
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # decompressed here, under the size cap
                trust_env=False,  # never route through an environment proxy
                timeout=aiohttp.ClientTimeout(total=None),  # the fetch-wide cap is ours
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            )
        return self._session

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET `url`, following up to `fetch_max_redirects` redirects; raise a FetchError. With
        `etag` / `last_modified` it is a conditional GET (a 304 result: `not_modified`)."""
        timeout_s = self._settings.fetch_timeout_s
        validators = {"If-None-Match": etag, "If-Modified-Since": last_modified}
        headers = {"Accept": FEED_ACCEPT} | {name: v for name, v in validators.items() if v}
        try:
            async with asyncio.timeout(timeout_s):
                return await self._follow(url, headers)
        except TimeoutError as exc:
            raise FetchTimeoutError(SLOW_ANSWER.format(url=url, seconds=f"{timeout_s:g}")) from exc

    async def _follow(self, url: str, headers: dict[str, str]) -> FetchResult:
        try:
            current = URL(url.strip())
        except ValueError as exc:
            raise UnsupportedSchemeError(NOT_VALID_ADDRESS.format(url=repr(url))) from exc
        _check_scheme(current, url)
        seen = {str(current)}  # the start and every redirect target so far
        max_redirects = self._settings.fetch_max_redirects
        while True:
            response = await self._request(current, headers)
            try:
                location = response.headers.get("Location")
                if response.status in _REDIRECT_STATUSES and location:
                    target = self._redirect_target(current, location)
                    if str(target) in seen:
                        raise TooManyRedirectsError(REDIRECT_LOOP.format(url=url, target=target))
                    if len(seen) > max_redirects:
                        raise TooManyRedirectsError(
                            TOO_MANY_REDIRECTS.format(url=url, count=max_redirects)
                        )
                    seen.add(str(target))
                    current = target
                    continue
                if response.status == 304:
                    return _make_result(response, str(current), None)
                if not 200 <= response.status < 300:
                    raise _status_error(response, str(current))
                body = await self._read_body(response, str(current))
                return _make_result(response, str(current), body)
            finally:
                response.release()  # closes the connection if the body was not read to the end

    @staticmethod
    def _redirect_target(current: URL, location: str) -> URL:
        try:
            target = current.join(URL(location.strip()))
        except ValueError as exc:
            raise FetchError(BAD_REDIRECT.format(url=current, target=repr(location))) from exc
        _check_scheme(target, str(target), redirected_from=current)
        return target.with_fragment(None)

    async def _request(self, url: URL, headers: dict[str, str]) -> aiohttp.ClientResponse:
        token = current_host.set(url.host)
        try:
            return await self._get_session().get(url, headers=headers, allow_redirects=False)
        except aiohttp.ClientConnectorDNSError as exc:
            raise ConnectError(DNS_FAILED.format(host=url.host)) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise ConnectError(
                BAD_CERTIFICATE.format(host=url.host, problem=exc.certificate_error)
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise ConnectError(TLS_FAILED.format(host=url.host)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(
                NO_CONNECTION.format(
                    host=url.host, port=url.port, problem=exc.strerror or exc.os_error
                )
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise UnsupportedSchemeError(NOT_VALID_ADDRESS.format(url=url)) from exc
        except aiohttp.ClientError as exc:
            raise ConnectError(
                CONNECTION_FAILED.format(host=url.host, problem=f"{type(exc).__name__}: {exc}")
            ) from exc
        finally:
            current_host.reset(token)

    async def _read_body(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        limit = self._settings.fetch_max_bytes
        collector = _CappedBody(response.headers.get("Content-Encoding", ""), limit, url)
        declared = response.content_length
        if declared is not None and declared > limit:
            raise collector.too_large()
        try:
            async for chunk in response.content.iter_any():
                collector.feed(chunk)
        except aiohttp.ClientPayloadError as exc:
            raise ConnectError(BROKE_OFF.format(url=url)) from exc
        except aiohttp.ClientError as exc:
            raise ConnectError(READ_FAILED.format(url=url, problem=exc)) from exc
        return collector.finish()
