"""Typed fetch/parse failures. Each message is written for a server admin to act on."""

from __future__ import annotations


class FeedError(Exception):
    """Base of every per-feed failure; `str(err)` is a sentence an admin can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FetchError(FeedError):
    """The feed could not be fetched. `brief` says why in a few words (discovery lists them)."""

    brief = "failed"


class UnsupportedSchemeError(FetchError):
    brief = "not an http(s) address"


class BlockedAddressError(FetchError):
    """The host resolves to a loopback, private, link-local or otherwise internal address."""

    brief = "refused (not a public address)"


class ResponseTooLargeError(FetchError):
    """The body (after decompression) is larger than the cap."""

    brief = "too large"


class FetchTimeoutError(FetchError):
    brief = "timed out"


class TooManyRedirectsError(FetchError):
    """More redirects than the cap, or a redirect loop."""

    brief = "too many redirects"


class HTTPStatusError(FetchError):
    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.brief = str(status)


class ConnectError(FetchError):
    """DNS failure, refused connection, TLS error and the like."""

    brief = "could not connect"


class ParseError(FeedError):
    """The document is not a feed (for example an HTML page) or holds nothing usable."""


class NotAFeedError(ParseError):
    """The URL serves a web page, not a feed; discovery may find the feed it links to."""


class DiscoveryError(FeedError):
    """No feed could be found from a site URL."""
