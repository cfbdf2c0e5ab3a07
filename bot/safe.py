"""The one gate for third-party text: what a feed, a web page or a member typed may carry.

Everything a feed supplies (titles, authors, summaries, URLs) is hostile. This module is the
only place that says which characters, mentions, markdown and URLs may pass; every renderer,
the ingest stage and the terminal output go through it. Pure string functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import urljoin, urlsplit

ELLIPSIS = "…"
ZWSP = "\u200b"
MAX_URL_LENGTH = 2048
TIMESTAMP_STYLES = frozenset("tTdDfFR")

# C0 and C1 controls except tab and newline, bidi embeddings/overrides/isolates that can make
# a title render reversed, lone surrogates and the two XML non-characters.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
_WHITESPACE = re.compile(r"\s+")
# `@everyone` / `@here`, in any letter case (Discord's own parser is case-sensitive; being
# stricter here costs nothing).
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
# User (<@1>, <@!1>), role (<@&1>), channel (<#1>) and slash-command (</name:1>) mentions.
_MENTION_SYNTAX = re.compile(r"<(@[!&]?|#|/)(?=[^<>\n]{0,100}>)")
# A bare URL Discord links by itself: left unescaped so it still links.
_BARE_URL = r"<[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s]"
# Characters Discord reads as markdown anywhere, and line starts it reads as a quote, heading
# or list. (Brackets are escaped separately, so a masked link never forms and what would be its
# text is escaped like any other.)
_MARKDOWN = re.compile(
    rf"(?P<url>{_BARE_URL})|(?P<md>[_\\~|\*`]|^>(?:>>)?\s|^#{{1,3}}|^\s*-)",
    re.MULTILINE,
)
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")
# Characters that end a masked link's target or its text early.
_LINK_TARGET_ESCAPES = {"(": "%28", ")": "%29", "<": "%3C", ">": "%3E", " ": "%20"}
_TRAILING_PUNCTUATION = " \t\n,;:-–—([{/"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_URL_NEWLINES = re.compile(r"[\t\n\r]")


def strip_control(text: str) -> str:
    """Remove control characters (terminal escapes, NUL, bidi overrides); keep newlines, tabs."""
    return _CONTROL.sub("", text)


def strip_invisible(text: str) -> str:
    """Drop every control, format (zero-width, bidi) and private-use character, but keep
    whitespace: for text a model wrote, where none of them has a reason to be."""
    return "".join(
        ch for ch in text if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Co")
    )


def one_line(text: str) -> str:
    """Collapse all whitespace (including newlines) to single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def plain_line(text: str) -> str:
    """Third-party text for one line of a terminal or a log: no controls, one line."""
    return one_line(strip_control(text))


def neutralize_mentions(text: str) -> str:
    """Break every mention so Discord shows it as text and never pings: a zero-width space
    after the `@` of `@everyone`/`@here`, and after the `<` of `<@123>`, `<@!123>`, `<@&123>`,
    `<#123>` and `</cmd:123>` (readable, but not parsed)."""
    text = _MASS_MENTION.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _MENTION_SYNTAX.sub(lambda m: f"<{ZWSP}{m.group(1)}", text)


def escape_markdown(text: str) -> str:
    """Escape Discord markdown so a title or name shows literally (`*`, `_`, `~`, `|`, `` ` ``,
    headings, quotes, lists, masked links). Bare URLs are left alone so they still link."""

    def escape(match: re.Match[str]) -> str:
        return match["url"] or "\\" + match["md"]

    escaped = _MARKDOWN.sub(escape, text)
    # A stray `[`/`]` would otherwise end the masked link we wrap titles in; escape every
    # bracket not already escaped (preceded by an even number of backslashes).
    return _UNESCAPED_BRACKET.sub(r"\1\\\2", escaped)


def shown(text: str, *, markdown: bool = True) -> str:
    """Third-party text inside our own sentence: no controls, no pings, and (for Discord
    markdown) no formatting of its own."""
    safe = neutralize_mentions(plain_line(text))
    return escape_markdown(safe) if markdown else safe


def safe_url(url: str | None, base: str | None = None, *, allow_mailto: bool = False) -> str | None:
    """An absolute http(s) URL Discord will accept, made from `url`, or None. A relative URL
    resolves against `base` (itself http(s)); `allow_mailto` also keeps `mailto:` links (in
    article text). Refused: other schemes (`javascript:`, `data:`, `file:` …), no host, longer
    than 2048 characters, spaces or control characters."""
    if not url:
        return None
    url = _URL_NEWLINES.sub("", url.strip())
    if not url or len(url) > MAX_URL_LENGTH or url.startswith("#"):
        return None
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        return None
    match = _SCHEME.match(url)
    if match:
        scheme = match.group(1).lower()
        if scheme == "mailto":
            return url if allow_mailto and len(url) > 7 else None
        if scheme not in ("http", "https"):
            return None
    elif base is None or not _is_http(base):
        return None
    else:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
        if len(url) > MAX_URL_LENGTH:
            return None
    return url if _is_http(url) else None


def archive_url(url: object, base: str | None) -> str | None:
    """An http(s) URL a feed gives (an item's link, its site, its media), resolved against
    `base`, as the archive keeps it; None for anything else. Lenient on purpose (a link with a
    space still identifies its item): what is shown passes `safe_url` when it is rendered."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        joined = urljoin(base or "", url.strip())
    except ValueError:
        return None
    return joined if _is_http(joined) else None


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port checks the port's range
    except ValueError:  # an unclosed "[" IPv6 host, a port out of range
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def link_target(url: str) -> str:
    """Percent-encode the characters that would end a markdown link target early."""
    return "".join(_LINK_TARGET_ESCAPES.get(ch, ch) for ch in url)


def truncate(text: str, limit: int) -> str:
    """Shorten `text` to at most `limit` characters, ending on a word boundary with "…": a hard
    cut inside a word only when that word alone would discard more than half of the allowed
    length (a long URL or an unbroken CJK run)."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if boundary >= (limit - 1) // 2:
            head = head[:boundary]
    head = head.rstrip(_TRAILING_PUNCTUATION)
    if not head:
        head = text[: limit - 1]
    # Do not leave an escape character that would swallow the ellipsis.
    return head.rstrip("\\") + ELLIPSIS


def fit_text(text: str, limit: int, *, markdown: bool = True) -> str:
    """Neutralize, (optionally) escape and truncate feed text to at most `limit` characters.
    The raw text is cut, so an escape sequence is never cut in half; escaping can lengthen it,
    so the raw cut shrinks until the escaped result fits."""

    def prepare(raw: str) -> str:
        safe = neutralize_mentions(strip_control(raw))
        return escape_markdown(safe) if markdown else safe

    text = text.strip()
    budget = limit
    while True:
        cut = truncate(text, budget)
        out = prepare(cut)
        if len(out) <= limit:
            return out
        budget -= max(1, len(out) - limit)
        if budget <= 0:
            return ""


WEBHOOK_NAME_MAX = 80
# Discord refuses a webhook name or username containing these; the variant swaps one letter
# (discord → disc0rd, clyde → c1yde, the case of the other letters kept).
_REFUSED_IN_NAMES = re.compile(r"discord|clyde", re.IGNORECASE)
_LOOK_ALIKES = str.maketrans("oOlL", "0011")
_NAME_SYNTAX = re.compile(r"[@#:]|```")


def webhook_name(text: str, fallback: str) -> str:
    """A name Discord accepts for a webhook post, from a feed's title or an admin's choice:
    one line, no @ # : or ```, "discord"/"clyde" replaced by a look-alike, 1–80 characters,
    never "everyone"/"here" (then `fallback`, which must itself be acceptable)."""
    name = _NAME_SYNTAX.sub("", one_line(strip_invisible(text)))
    name = _REFUSED_IN_NAMES.sub(lambda m: m[0].translate(_LOOK_ALIKES), name)
    name = truncate(name, WEBHOOK_NAME_MAX).strip()
    if not name or name.lower() in ("everyone", "here"):
        return fallback
    return name


def discord_timestamp(dt: datetime, style: str = "R") -> str:
    """`<t:UNIX:STYLE>`: Discord shows it in each member's own time zone (R = "3 hours ago")."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("discord_timestamp needs an aware datetime")
    if style not in TIMESTAMP_STYLES:
        raise ValueError(f"unknown Discord timestamp style {style!r}")
    return f"<t:{int(dt.timestamp())}:{style}>"
