"""Make hostile feed text safe to show in Discord: no pings, no broken layout, no bad links.

Everything a feed supplies (titles, authors, summaries, URLs) is untrusted. These helpers are
pure string functions; the renderers in this package run every piece of feed text through them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import urlsplit

import discord

ELLIPSIS = "…"
ZWSP = "\u200b"
MAX_URL_LENGTH = 2048
TIMESTAMP_STYLES = frozenset("tTdDfFR")

# `@everyone` / `@here`, in any letter case (Discord's own parser is case-sensitive; being
# stricter here costs nothing).
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
# User (<@1>, <@!1>), role (<@&1>), channel (<#1>) and slash-command (</name:1>) mentions.
_MENTION_SYNTAX = re.compile(r"<(@[!&]?|#|/)(?=[^<>\n]{0,100}>)")
_WHITESPACE = re.compile(r"\s+")
# Everything but newline/tab in the C0/C1 control ranges, plus bidi overrides that can make
# a title render reversed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Characters that end a masked link's target or its text early.
_LINK_TARGET_ESCAPES = {"(": "%28", ")": "%29", "<": "%3C", ">": "%3E", " ": "%20"}
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")
_TRAILING_PUNCTUATION = " \t\n,;:-–—([{/"


def neutralize_mentions(text: str) -> str:
    """Break every mention so Discord shows it as text and never pings.

    `@everyone`/`@here` get a zero-width space after the `@`; `<@123>`, `<@!123>`, `<@&123>`,
    `<#123>` and `</cmd:123>` get one after the `<`, so they stay readable but are not parsed.
    """
    text = _MASS_MENTION.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _MENTION_SYNTAX.sub(lambda m: f"<{ZWSP}{m.group(1)}", text)


def strip_control(text: str) -> str:
    """Remove control characters (terminal escapes, bidi overrides); keep newlines and tabs."""
    return _CONTROL.sub("", text)


def escape_markdown_inline(text: str) -> str:
    """Escape Discord markdown so a title or name shows literally (`*`, `_`, `~`, `|`, `` ` ``,
    headings, quotes, masked links). Bare URLs are left alone so they still link."""
    escaped = discord.utils.escape_markdown(text, ignore_links=True)
    # A stray `[`/`]` would otherwise end the masked link we wrap titles in; escape every
    # bracket not already escaped (preceded by an even number of backslashes).
    return _UNESCAPED_BRACKET.sub(r"\1\\\2", escaped)


def one_line(text: str) -> str:
    """Collapse all whitespace (including newlines) to single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def safe_url(url: str | None) -> str | None:
    """Return `url` if it is an absolute http(s) URL Discord will accept, else None.

    Rejected: other schemes (`javascript:`, `data:`, `file:` …), no host, longer than 2048
    characters, any whitespace or control character.
    """
    if not url:
        return None
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def link_target(url: str) -> str:
    """Percent-encode the characters that would end a markdown link target early."""
    return "".join(_LINK_TARGET_ESCAPES.get(ch, ch) for ch in url)


def truncate(text: str, limit: int) -> str:
    """Shorten `text` to at most `limit` characters, ending on a word boundary with "…".

    The cut falls at the last whitespace before the limit; it is a hard cut inside a word only
    when that word alone would discard more than half of the allowed length (a long URL or an
    unbroken CJK run).
    """
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit == 1:
        return ELLIPSIS
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if boundary >= (limit - 1) // 2:
            head = head[:boundary]
    head = head.rstrip(_TRAILING_PUNCTUATION)
    if not head:
        head = text[: limit - 1]
    if head.endswith("\\"):
        # Do not leave an escape character that would swallow the ellipsis.
        head = head.rstrip("\\")
    return head + ELLIPSIS


def fit_text(text: str, limit: int, *, markdown: bool = True) -> str:
    """Neutralize, (optionally) escape and truncate feed text so the result is ≤ `limit`.

    Truncation happens on the raw text so an escape sequence is never cut in half; escaping can
    lengthen the text, so the raw cut shrinks until the escaped result fits.
    """

    def prepare(raw: str) -> str:
        safe = neutralize_mentions(strip_control(raw))
        return escape_markdown_inline(safe) if markdown else safe

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


def discord_timestamp(dt: datetime, style: str = "R") -> str:
    """`<t:UNIX:STYLE>`: Discord shows it in each member's own time zone (R = "3 hours ago")."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("discord_timestamp needs an aware datetime")
    if style not in TIMESTAMP_STYLES:
        raise ValueError(f"unknown Discord timestamp style {style!r}")
    return f"<t:{int(dt.timestamp())}:{style}>"
