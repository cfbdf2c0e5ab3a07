"""The text stage of the pipeline: a parsed Entry → a cleaned EnrichedItem ready to archive
(the raw HTML stays in the Entry). Pure and synchronous: the pipeline runs it in a thread."""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Iterable

from bot.model import EnrichedItem, Entry
from bot.safe import safe_url
from bot.text.clean import clean_html
from bot.text.summary import offline_summary

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]*>")


def enrich_entry(entry: Entry, *, feed_language: str | None, base_url: str | None) -> EnrichedItem:
    """Clean the body, summarize it, pick an image, hash the cleaned text. Relative links
    resolve against the feed's xml:base for this HTML, else the item's own URL (where its HTML
    lives, so page-relative images work), else `base_url` (the feed's site or address)."""
    base = entry.html_base or (entry.url if entry.url and safe_url(entry.url, None) else base_url)
    has_content = bool(entry.content_html and entry.content_html.strip())
    body = clean_html(entry.content_html if has_content else entry.description_html, base)
    description = ""
    if has_content and entry.description_html and entry.description_html != entry.content_html:
        description = clean_html(entry.description_html, base).text
    summary = offline_summary(
        entry.title, description, body.text, entry.language or feed_language, body.captions
    )
    return _enriched(entry, body.text, summary, safe_url(entry.image_url, base) or body.image_url)


def enrich_entries(
    entries: Iterable[Entry], *, feed_language: str | None, base_url: str | None
) -> list[EnrichedItem]:
    """`enrich_entry` for a batch (one thread hop for a whole poll). One entry whose HTML
    defeats the clean-up is kept with a bare, text-only enrichment: it never costs the feed
    its other items."""
    enriched: list[EnrichedItem] = []
    for entry in entries:
        try:
            enriched.append(enrich_entry(entry, feed_language=feed_language, base_url=base_url))
        except Exception:
            log.exception("entry %r: clean-up failed; archived as plain text", entry.stable_id)
            # The fallback: tags stripped, no links, no image; the title is the summary.
            raw = entry.content_html or entry.description_html
            text = " ".join(html.unescape(_TAG.sub(" ", raw)).split())[:100_000]
            enriched.append(_enriched(entry, text, entry.title.strip(), None))
    return enriched


def _enriched(entry: Entry, text: str, summary: str, image_url: str | None) -> EnrichedItem:
    """The content hash is of title + cleaned text: an edit changes it."""
    title = entry.title.strip()
    digest = hashlib.sha256(f"{title}\n{text}".encode("utf-8", "replace")).hexdigest()
    return EnrichedItem(entry, text, summary, image_url, digest)
