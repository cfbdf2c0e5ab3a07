"""Typed fetch/parse failures. Each message is written for a server admin to act on."""

from __future__ import annotations

import re

from bot.i18n import N_, _


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


# --- what a member reads ---------------------------------------------------------------------
# Every error sentence is one of these templates, filled where it is raised. The English is
# stored (a feed's last error, a notice's payload) and logged; `feed_error_text` finds the
# template again to show it in the reader's language, values (addresses, reason phrases)
# untranslated. A sentence of no template (an older version's, a third party's) stays as it is.
NOT_VALID_ADDRESS = N_("{url} is not a valid web address")
NOT_A_WEB_ADDRESS = N_("{url} is not a web address; a feed URL looks like https://example.com/feed")
OTHER_LINK = N_(
    "{text} is a {kind}: link, not a web address; only http:// and https:// feeds can be followed"
)
ONLY_HTTP = N_("only http and https feeds can be followed, not {scheme}://")
NO_HOST_NAME = N_("{url} has no host name")
WITH_PASSWORD = N_("feed URLs with a user name or password are not supported")
UNASKED_ENCODING = N_(
    "the server sent {url} compressed as {encoding}, which the bot did not ask for and cannot read"
)
TOO_LARGE = N_("the feed at {url} is larger than {size}, the most the bot reads")
BROKEN_COMPRESSION = N_("the server sent a broken compressed body for {url}")
WRONG_SCHEME = N_("{url} uses {scheme}; the bot only fetches http:// and https:// web addresses")
NO_SCHEME = N_(
    "{url} uses no http:// or https://; the bot only fetches http:// and https:// web addresses"
)
REDIRECT_SCHEME = N_(
    "{url} redirected to {target}, which uses {scheme}; the bot only fetches http:// and "
    "https:// web addresses"
)
NO_HOST = N_("{url} has no host name; give a full http:// or https:// web address")
SLOW_ANSWER = N_("the server at {url} did not send the whole answer within {seconds} s")
REDIRECT_LOOP = N_("{url} redirects in a loop (back to {target}); the site is misconfigured")
TOO_MANY_REDIRECTS = N_(
    "{url} redirected more than {count} times; use the final address of the feed"
)
BAD_REDIRECT = N_("{url} redirected to {target}, which is not a valid web address")
DNS_FAILED = N_("the host name {host} could not be found (DNS); check the address")
BAD_CERTIFICATE = N_("the TLS certificate of {host} is not valid: {problem}")
TLS_FAILED = N_("a secure (TLS) connection to {host} failed")
NO_CONNECTION = N_("could not connect to {host}:{port} ({problem}); the site may be down")
CONNECTION_FAILED = N_("the connection to {host} failed ({problem})")
BROKE_OFF = N_("the server at {url} broke off while sending the feed")
READ_FAILED = N_("reading the feed from {url} failed ({problem})")
HTTP_STATUS = N_("the server answered {status} {phrase} for {url}")
HTTP_WAIT = N_(
    "the server answered {status} {phrase} for {url}; it asks the bot to wait {seconds} s"
)
HTTP_MOVED = N_(
    "the server answered {status} {phrase} for {url}; check the address, the feed may have moved"
)
HTTP_PRIVATE = N_("the server answered {status} {phrase} for {url}; the feed is not public")
ADDRESS_REFUSED = N_(
    "{address} is {reason}; the bot only fetches public internet addresses "
    "(an operator can allow a host or network with DIGESTBOT_FETCH_ALLOW)"
)
HOST_REFUSED = N_(
    "{host} resolves to {address}, which is {reason}; the bot only fetches public internet "
    "addresses (an operator can allow a host or network with DIGESTBOT_FETCH_ALLOW)"
)
NO_ADDRESS = N_("{host} has no address to connect to")
WEB_PAGE = N_("that address serves a web page, not an RSS or Atom feed")
CUT_OFF = N_(
    "the feed was cut off after {size} bytes (its document ends before its root element "
    "closes), so it was not read; the next poll tries again"
)
OWN_ENTITIES = N_(
    "the feed declares its own XML entities, which digestbot refuses (that is how "
    "entity-expansion attacks such as 'billion laughs' work)"
)
UNREADABLE = N_("that address does not serve a readable RSS or Atom feed")
UNREADABLE_BECAUSE = N_("that address does not serve a readable RSS or Atom feed ({problem})")
SLOW_PARSE = N_(
    "reading this feed took longer than {seconds} s, so digestbot gave up on it; if it is a "
    "huge feed, ask its publisher for a smaller one"
)
PARSE_MEMORY = N_(
    "reading this feed needed more than {size} MiB of memory, so digestbot gave up on it (a "
    "huge or hostile document)"
)
NOTHING_FOUND = N_(
    "no RSS or Atom feed found at {url}: tried {count} addresses within {seconds} s: {tried}; "
    "give the feed's own address"
)
NOTHING_FOUND_REFUSED = N_(
    "no RSS or Atom feed found at {url}: tried {count} addresses within {seconds} s: {tried}; "
    "give the feed's own address; one candidate was refused: {refusal}"
)
NO_FEED_AT = N_("no feed was found at {url}")

# Every upper-case string of this module is one of the templates above.
_TEMPLATES = tuple(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))


# A template as a pattern: its escaped words, each `{name}` a group of that name. The most words
# first: a template that is another's beginning never takes its sentence.
_PATTERNS = tuple(
    (template, re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template)), re.DOTALL))
    for template in sorted(_TEMPLATES, key=lambda t: -len(re.sub(r"\{\w+\}", "", t)))
)


def feed_error_text(text: str) -> str:
    """A stored or raised feed error (English) in the current language."""
    for template, pattern in _PATTERNS:
        found = pattern.fullmatch(text)
        if found is not None:
            return _(template, **found.groupdict())
    return text
