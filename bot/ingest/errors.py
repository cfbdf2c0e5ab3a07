"""Typed fetch/parse failures. Each message is written for a server admin to act on."""

from __future__ import annotations


class FeedError(Exception):
    """Base of every per-feed failure; `str(err)` is a sentence an admin can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FetchError(FeedError):
    """The feed could not be fetched."""


class UnsupportedSchemeError(FetchError):
    """Only http and https URLs are fetched."""


class BlockedAddressError(FetchError):
    """The host resolves to a loopback, private, link-local or otherwise internal address."""


class ResponseTooLargeError(FetchError):
    """The body (after decompression) is larger than the cap."""


class FetchTimeoutError(FetchError):
    """The server did not answer within the time cap."""


class TooManyRedirectsError(FetchError):
    """More redirects than the cap, or a redirect loop."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ConnectError(FetchError):
    """DNS failure, refused connection, TLS error and the like."""


class ParseError(FeedError):
    """The document is not a feed (for example an HTML page) or holds nothing usable."""


class NotAFeedError(ParseError):
    """The URL serves a web page, not a feed; discovery may find the feed it links to."""


class DiscoveryError(FeedError):
    """No feed could be found from a site URL."""
