"""Feed URL normalization, so one feed is stored (and fetched) once however it is written."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.ingest.errors import (
    NO_HOST_NAME,
    NOT_A_WEB_ADDRESS,
    NOT_VALID_ADDRESS,
    ONLY_HTTP,
    OTHER_LINK,
    WITH_PASSWORD,
)

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62}\.?)*[a-z0-9]?$")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Query parameters that say where a link was shared, never which document it names: a feed URL
# with them is the same feed (`…/feed.xml?utm_source=x` is `…/feed.xml`).
_TRACKING_PREFIXES = ("utm_",)
_TRACKING_KEYS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok",
    }
)  # fmt: skip
_SLASHES = re.compile(r"//+")

# `javascript:…`, `mailto:…`, `file:/…`: a scheme without `//` (a host's `name:8080` is a port).
_OTHER_SCHEME = re.compile(r"^([a-z][a-z0-9+-]*):(?!\d)", re.IGNORECASE)


class InvalidURLError(ValueError):
    """The text is not an http(s) URL."""


def normalize_feed_url(url: str) -> str:
    """Lower-case scheme and host; drop the default port, the fragment and tracking parameters;
    collapse repeated slashes; keep the rest as written. A bare `example.com/feed` gets https://.
    """
    text = url.strip()
    if "://" not in text:
        other = _OTHER_SCHEME.match(text)
        if other:
            raise InvalidURLError(OTHER_LINK.format(text=repr(text), kind=other[1].lower()))
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidURLError(NOT_A_WEB_ADDRESS.format(url=repr(url))) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURLError(ONLY_HTTP.format(scheme=scheme))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidURLError(NO_HOST_NAME.format(url=repr(url)))
    host = _checked_host(host, url)
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        raise InvalidURLError(WITH_PASSWORD)
    path = _SLASHES.sub("/", parts.path) or "/"
    return urlunsplit((scheme, netloc, path, without_tracking(parts.query), ""))


def without_tracking(query: str) -> str:
    """The query without tracking parameters; the others stay exactly as written, in order."""
    keyed = ((pair, unquote(pair.partition("=")[0]).lower()) for pair in query.split("&"))
    return "&".join(
        pair
        for pair, key in keyed
        if pair and key not in _TRACKING_KEYS and not key.startswith(_TRACKING_PREFIXES)
    )


def own_address(self_url: str | None, fetched_url: str) -> str | None:
    """The address a feed names as its own (`atom:link rel="self"`, JSON Feed's `feed_url`),
    normalized, when it is on the host the feed was fetched from (`www.` aside); else None: on
    any other host it could be a feed claiming to be someone else's, to be taken for it.
    """
    if not self_url:
        return None
    try:
        claimed = normalize_feed_url(self_url)
        fetched = normalize_feed_url(fetched_url)
    except InvalidURLError:
        return None
    return claimed if _site(claimed) == _site(fetched) else None


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _checked_host(host: str, url: str) -> str:
    """The host in ASCII (IDNA), or bracketed IPv6; anything else is not a web address."""
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        return f"[{address}]" if address.version == 6 else str(address)
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_host = ""  # no host name matches
    if not _HOST_NAME.match(ascii_host):
        raise InvalidURLError(NOT_VALID_ADDRESS.format(url=repr(url)))
    return ascii_host
