"""Feed bytes → ParsedFeed, with feedparser. feedparser never sees a URL or a file name.

feedparser's HTML sanitizer and relative-URI resolver are turned off (8–10× faster): that is
safe because raw feed HTML is never rendered; bot.text.clean drops scripts and styles, keeps
only http(s) links and resolves relative links itself.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import hashlib
import itertools
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import feedparser.api
from lxml import etree

from bot.ingest.errors import (
    CUT_OFF,
    OWN_ENTITIES,
    UNREADABLE,
    UNREADABLE_BECAUSE,
    WEB_PAGE,
    NotAFeedError,
    ParseError,
)
from bot.ingest.jsonfeed import MAX_STORED_INT, is_json_document, parse_json_feed
from bot.ingest.prolog import EntityDeclarationError, cut_off, rewrite_prolog
from bot.model import Enclosure, Entry, ParsedFeed
from bot.safe import archive_url, plain_line, truncate
from bot.text.clean import parse_html

# feedparser calls `replace_doctype` on the document (decoded to UTF-8) before either of its
# parsers sees it; ours refuses entities that can expand (see bot.ingest.prolog).
if not callable(getattr(feedparser.api, "replace_doctype", None)):  # pragma: no cover
    raise ImportError("this feedparser has no api.replace_doctype; digestbot cannot parse safely")
feedparser.api.replace_doctype = rewrite_prolog

_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)", re.I | re.S)
# Inside a title these say nothing a reader should see (as in bot.text.clean).
_INVISIBLE_TAGS = (
    "script", "style", "noscript", "template", "svg", "math", "object", "iframe", "applet",
)  # fmt: skip
# A boundary between these is a word boundary ("a<br>b" is "a b").
_SPACED_TAGS = frozenset(
    {
        "br", "p", "div", "li", "dt", "dd", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5",
        "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer", "title",
    }
)  # fmt: skip
_PLAIN_TYPE = "text/plain"
# An entry with several bodies: HTML first, then XHTML, then any other, each in feed order.
_CONTENT_RANK = {"text/html": 0, "application/xhtml+xml": 1}
# What the archive keeps of a feed's names (they are shown whole in embeds, lists, digests).
MAX_TITLE_CHARS = 300
MAX_AUTHOR_CHARS = 200
MAX_FEED_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 1000


def plain(text: str | None) -> str:
    """The text an HTML fragment (a title, name or description) shows, read by a real HTML
    parser: no scripts, styles, comments or control characters; whitespace collapsed."""
    if not text:
        return ""
    if "<" not in text and "&" not in text:
        return plain_line(text)
    root = parse_html(text)
    if root is None:
        return ""
    etree.strip_elements(root, *_INVISIBLE_TAGS, with_tail=False)
    for element in root.iter(*_SPACED_TAGS):
        element.tail = " " + (element.tail or "")
    return plain_line(root.text_content())


def _field_text(text: object, detail: object, version: str) -> str:
    """A text construct as a reader sees it. Atom declares its type: `type="text"` is literal
    text (a title about `<blink>` keeps it). RSS declares nothing (feedparser's text/plain
    there is only a guess), so its text is read as HTML."""
    if not text:
        return ""
    declared = detail.get("type") if isinstance(detail, Mapping) else None
    if version.startswith("atom") and declared == _PLAIN_TYPE:
        return plain_line(str(text))
    return plain(str(text))


def parse_duration(value: object) -> int | None:
    """itunes:duration as seconds ("3600"), "MM:SS" or "HH:MM:SS"; None when unreadable
    (including "inf", "nan", negative or absurdly large values)."""
    try:  # float() takes surrounding spaces; None and "" are not numbers
        parts = [int(float(p)) for p in str(value).split(":")]
    except (ValueError, OverflowError):
        return None
    if len(parts) > 3 or any(p < 0 for p in parts):
        return None
    seconds = functools.reduce(lambda total, part: total * 60 + part, parts)
    return seconds if seconds <= MAX_STORED_INT else None


def _utc(struct: time.struct_time | None) -> datetime | None:
    if struct is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _content_html(raw: Mapping[str, Any]) -> tuple[str, str | None]:
    """The fullest body the entry offers, and the xml:base in force where it was written."""
    contents = raw.get("content") or []
    for content in sorted(contents, key=lambda c: _CONTENT_RANK.get(c.get("type"), 2)):
        if content.get("value"):
            return str(content["value"]), content.get("base") or None
    detail = raw.get("summary_detail")
    base = detail.get("base") if isinstance(detail, Mapping) else None
    return str(raw.get("summary") or ""), base or None


def _image(raw: Mapping[str, Any], base: str | None) -> str | None:
    for key in ("media_thumbnail", "media_content"):
        for media in raw.get(key) or []:
            medium = str(media.get("medium") or media.get("type") or "image")
            if "image" in medium and (url := archive_url(media.get("url"), base)):
                return url
    for link in raw.get("links") or []:
        is_image = link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
        if is_image and (url := archive_url(link.get("href"), base)):
            return url
    image = raw.get("image")
    if isinstance(image, Mapping):
        return archive_url(image.get("href"), base)
    return None


def _enclosure(raw: Mapping[str, Any], base: str | None) -> Enclosure | None:
    for link in raw.get("links") or []:
        kind = str(link.get("type") or "")
        if link.get("rel") != "enclosure" or kind.startswith("image/"):
            continue
        url = archive_url(link.get("href"), base)
        if not url:
            continue
        try:
            length = int(link.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        valid = 0 < length <= MAX_STORED_INT
        return Enclosure(url=url, type=kind or None, length=length if valid else None)
    return None


def _fallback_id(title: str, content: str) -> str:
    digest = hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def _entry(
    raw: Mapping[str, Any],
    base: str | None,
    address: str | None,
    language: str | None,
    version: str,
) -> Entry:
    content, html_base = _content_html(raw)
    contents = raw.get("content") or []
    entry_language = next((str(c["language"]) for c in contents if c.get("language")), None)
    # An Atom author's name is text by definition; RSS's is whatever the publisher wrote.
    author_type = {"type": _PLAIN_TYPE} if version.startswith("atom") else None
    url = archive_url(raw.get("link"), base)
    return Entry(
        stable_id=str(raw.get("id") or "").strip() or url or "",  # "": _capped gives one
        title=_field_text(raw.get("title"), raw.get("title_detail"), version),
        url=url,
        author=_field_text(raw.get("author"), author_type, version) or None,
        published=_utc(raw.get("published_parsed")) or _utc(raw.get("updated_parsed")),
        content_html=content,
        description_html=str(raw.get("summary") or ""),
        image_url=_image(raw, base),
        enclosure=_enclosure(raw, base),
        duration_s=parse_duration(raw.get("itunes_duration")),
        language=entry_language or language,
        html_base=archive_url(html_base, address) if html_base else None,
        canonical_url=_link(raw, "canonical", base),
    )


def _disambiguate(entries: list[Entry]) -> list[Entry]:
    """A guid repeated inside one document is made unique (never merged): later copies get a
    suffix derived from their own content, so the suffix is stable across polls."""
    seen: set[str] = set()
    result: list[Entry] = []
    for entry in entries:
        if entry.stable_id in seen:
            text = f"{entry.url}\n{entry.title}\n{entry.content_html}"
            unique = f"{entry.stable_id}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            tries = (unique + (f"-{n}" if n > 1 else "") for n in itertools.count(1))
            entry = dataclasses.replace(entry, stable_id=next(t for t in tries if t not in seen))
        seen.add(entry.stable_id)
        result.append(entry)
    return result


def parse_feed(body: bytes, headers: Mapping[str, str], base_url: str | None) -> ParsedFeed:
    """Parse a feed document (RSS, Atom, RDF or JSON Feed); raise NotAFeedError for a web
    page, ParseError for junk or a body cut off before its root element closes. A malformed
    feed still yields the items feedparser could read (with a `warning`). CPU-bound."""
    if _HTML_START.match(body[:65536]):
        raise NotAFeedError(WEB_PAGE)
    if is_json_document(body):
        return _capped(parse_json_feed(body, base_url), base_url)
    # Without Content-Location feedparser's base is "" unless the feed sets xml:base, so a
    # base it reports is the feed's own word (see html_base).
    response_headers = {k.lower(): v for k, v in headers.items() if k.lower() != "content-location"}
    try:
        if cut_off(body):
            raise ParseError(CUT_OFF.format(size=f"{len(body):,}"))
        result = feedparser.parse(
            body,
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except EntityDeclarationError:
        raise ParseError(OWN_ENTITIES) from None
    feed = result.get("feed", {})
    version = result.get("version") or ""
    raw_entries = result.get("entries") or []
    bozo = result.get("bozo_exception")
    if not version and not raw_entries and not feed.get("title"):
        raise ParseError(UNREADABLE_BECAUSE.format(problem=bozo) if bozo else UNREADABLE)
    site_url = archive_url(feed.get("link"), base_url)
    base = site_url or base_url
    language = str(feed.get("language") or "").strip() or None
    malformed = result.get("bozo") and bozo is not None
    parsed = ParsedFeed(
        title=_field_text(feed.get("title"), feed.get("title_detail"), version),
        site_url=site_url,
        description=_field_text(feed.get("subtitle"), feed.get("subtitle_detail"), version),
        language=language,
        entries=[_entry(raw, base, base_url, language, version) for raw in raw_entries],
        warning=f"the feed is not well-formed XML: {bozo}" if malformed else None,
        self_url=_link(feed, "self", base_url),
        image_url=_feed_image(feed, base),
    )
    return _capped(parsed, base_url)


def _feed_image(feed: Mapping[str, Any], base: str | None) -> str | None:
    """The feed's own image: RSS <image>/itunes:image, Atom <logo> or <icon>."""
    image = feed.get("image")
    if isinstance(image, Mapping) and (
        url := archive_url(image.get("href") or image.get("url"), base)
    ):
        return url
    return archive_url(feed.get("logo"), base) or archive_url(feed.get("icon"), base)


def _link(raw: Mapping[str, Any], rel: str, base: str | None) -> str | None:
    """The first usable `<link rel=…>` of an entry or feed (Atom's, or RSS's atom:link):
    `canonical` for an entry, `self` for the feed (the address it gives as its own)."""
    for link in raw.get("links") or []:
        if link.get("rel") == rel and (url := archive_url(link.get("href"), base)):
            return url
    return None


def _capped(parsed: ParsedFeed, base_url: str | None) -> ParsedFeed:
    """The caps, fallback ids and titles, and repeated-id rule every feed gets, whatever format."""
    entries = [
        dataclasses.replace(
            entry,
            stable_id=entry.stable_id or _fallback_id(entry.title, entry.content_html),
            title=truncate(entry.title, MAX_TITLE_CHARS)
            or truncate(plain(entry.description_html), 80)
            or "(untitled)",
            author=truncate(entry.author, MAX_AUTHOR_CHARS) if entry.author else None,
        )
        for entry in parsed.entries
    ]
    return dataclasses.replace(
        parsed,
        title=truncate(parsed.title, MAX_FEED_TITLE_CHARS)
        or (urlsplit(base_url).hostname or "" if base_url else ""),
        description=truncate(parsed.description or "", MAX_DESCRIPTION_CHARS) or None,
        entries=_disambiguate(entries),
    )
