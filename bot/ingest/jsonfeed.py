"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1) → ParsedFeed, with the standard json.

The same Entry fields and hostile-text rules as RSS or Atom (bot.ingest.parse). Titles, names
and summaries are plain text by the spec (a title about `<blink>` keeps it); `content_html` is
raw HTML like any feed body, `content_text` is escaped into HTML. A value of the wrong JSON type
is as good as absent.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.ingest.errors import ParseError
from bot.model import Enclosure, Entry, ParsedFeed
from bot.safe import archive_url, plain_line

_VERSION_PREFIX = "https://jsonfeed.org/version/"
# A JSON document's first character, after an optional BOM and whitespace.
_JSON_START = re.compile(rb"^(?:\xef\xbb\xbf)?[ \t\r\n]*\{")
_SNIFF_VERSION = re.compile(rb'"version"\s*:\s*"https?:\\?/\\?/jsonfeed\.org\\?/version\\?/')
# Feed numbers end up in SQLite INTEGER columns (64-bit): anything larger is junk, not a value.
MAX_STORED_INT = 2**63 - 1


def looks_like_json_feed(body: bytes) -> bool:
    """Sniff the first bytes: a JSON object that names a JSON Feed version."""
    return bool(_JSON_START.match(body)) and bool(_SNIFF_VERSION.search(body[:65536]))


def is_json_document(body: bytes) -> bool:
    """The body starts like a JSON object (so it is not XML, whatever else it is)."""
    return bool(_JSON_START.match(body))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _line(value: object) -> str:
    return plain_line(_text(value))


def _date(value: object) -> datetime | None:
    """An RFC 3339 date as UTC (a date naming no zone is read as UTC); None when unreadable."""
    text = _text(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _count(value: object) -> int | None:
    """A non-negative whole number that fits the archive's integer columns."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = int(value)
    except (OverflowError, ValueError):  # inf, nan
        return None
    return number if 0 <= number <= MAX_STORED_INT else None


def _author(item: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    """Version 1.1's `authors` (names joined), else 1.0's `author`; the item's, else the feed's."""
    for source in (item, feed):
        authors = source.get("authors")
        if not isinstance(authors, list):
            single = source.get("author")
            authors = [single] if isinstance(single, dict) else []
        names = [_line(a.get("name")) for a in authors if isinstance(a, dict)]
        if joined := ", ".join(name for name in names if name):
            return joined
    return None


def _enclosure(item: Mapping[str, Any], base: str | None) -> tuple[Enclosure | None, int | None]:
    """The first attachment with an http(s) URL, and its duration in seconds."""
    attachments = item.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        url = archive_url(attachment.get("url"), base) if isinstance(attachment, dict) else None
        if not url:
            continue
        kind = _text(attachment.get("mime_type")).strip()[:200] or None
        size = _count(attachment.get("size_in_bytes"))
        enclosure = Enclosure(url=url, type=kind, length=size or None)
        return enclosure, _count(attachment.get("duration_in_seconds"))
    return None, None


def _entry(
    item: Mapping[str, Any],
    feed: Mapping[str, Any],
    base: str | None,
    language: str | None,
) -> Entry | None:
    raw_id = item.get("id")
    # The spec says a string; numbers are common in the wild and identify the item as well.
    stable_id = (
        str(raw_id).strip()
        if isinstance(raw_id, str | int) and not isinstance(raw_id, bool)
        else ""
    )
    url = archive_url(item.get("url"), base) or archive_url(item.get("external_url"), base)
    content = _text(item.get("content_html"))
    if not content.strip() and _text(item.get("content_text")).strip():
        paragraphs = re.split(r"\n\s*\n", _text(item.get("content_text")).strip())
        content = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    summary = _text(item.get("summary"))
    description = html.escape(summary) if summary.strip() else content
    title = _line(item.get("title"))
    if not (stable_id or url or content or title):
        return None
    enclosure, duration = _enclosure(item, base)
    item_language = _text(item.get("language")).strip()[:35] or None
    return Entry(
        stable_id=stable_id or url or "",  # "": parse_feed gives it the content-hash id
        title=title,
        url=url,
        author=_author(item, feed),
        published=_date(item.get("date_published")) or _date(item.get("date_modified")),
        content_html=content,
        description_html=description,
        image_url=archive_url(item.get("image"), base)
        or archive_url(item.get("banner_image"), base),
        enclosure=enclosure,
        duration_s=duration,
        language=item_language or language,
    )


def parse_json_feed(body: bytes, base_url: str | None) -> ParsedFeed:
    """A JSON Feed document as a ParsedFeed, uncapped and without fallback ids or titles
    (parse_feed gives those to every format); ParseError for anything else."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ParseError(
            f"that address serves JSON that is not a readable JSON Feed ({exc})"
        ) from None
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIX):
        raise ParseError(
            "that address serves JSON, not a JSON Feed (no https://jsonfeed.org/version/ "
            "in its version field)"
        )
    home = archive_url(document.get("home_page_url"), base_url)
    base = home or base_url
    language = _text(document.get("language")).strip()[:35] or None
    items = document.get("items")
    entries = [
        entry
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and (entry := _entry(item, document, base, language)) is not None
    ]
    return ParsedFeed(
        title=_line(document.get("title")),
        site_url=home,
        description=_line(document.get("description")) or None,
        language=language,
        entries=entries,
        self_url=archive_url(document.get("feed_url"), base_url),
    )
