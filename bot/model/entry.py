"""A feed as the ingest stages pass it on (fetch → parse → enrich → store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A podcast episode's audio (or other media) attachment."""

    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a parsed feed, before enrichment. `content_html` is raw, untrusted HTML."""

    stable_id: str
    title: str
    url: str | None
    author: str | None
    published: datetime | None  # aware, UTC; None when the feed gives no date
    content_html: str  # the fullest body the feed offers (content:encoded, atom content, ...)
    description_html: str  # the feed's own short description/subtitle, may equal the content
    image_url: str | None = None
    enclosure: Enclosure | None = None
    duration_s: int | None = None
    language: str | None = None
    # The xml:base in force where the feed wrote content_html (absolute), when it set one:
    # relative links in that HTML resolve against it.
    html_base: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into plain data. `warning` is set when the XML was malformed."""

    title: str
    site_url: str | None
    description: str | None
    language: str | None
    entries: list[Entry] = field(default_factory=list)
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class EnrichedItem:
    """An Entry after the text stage: what the store archives. All text here is cleaned."""

    entry: Entry
    content_text: str  # plain text of the cleaned body (indexed for search)
    summary: str
    image_url: str | None
    content_hash: str  # sha256 of title + cleaned text: an edit changes it
