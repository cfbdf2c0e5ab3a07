"""Feed URL normalization, so one feed is stored (and fetched) once however it is written."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidURLError(ValueError):
    """The text is not an http(s) URL."""


def normalize_feed_url(url: str) -> str:
    """Lower-case scheme and host, drop the default port and the fragment, keep path and query.

    A bare host such as `example.com/feed` gets `https://`.
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidURLError(f"{url!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURLError(f"only http and https feeds can be followed, not {scheme}://")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidURLError(f"{url!r} has no host name")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        raise InvalidURLError("feed URLs with a user name or password are not supported")
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
