"""OPML in and out: the list of feeds other readers import and export.

An uploaded OPML file is hostile input: it is parsed with defusedxml (no DTD, so no entity
expansion bombs and no external entities), after a size cap, and its feed count is capped.
Every refusal is an `OpmlError` whose message is meant for the admin who uploaded the file.
"""

from __future__ import annotations

import asyncio
import logging
import re
import xml.etree.ElementTree as StdET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Final, Literal

import defusedxml
import defusedxml.ElementTree as SafeET

from bot.i18n import _
from bot.model import FeedFilter
from bot.safe import strip_control

log = logging.getLogger(__name__)

MAX_OPML_BYTES: Final = 1024 * 1024
MAX_OPML_FEEDS: Final = 500
_MAX_TITLE = 200
_MAX_URL = 2048
_SPACE = re.compile(r"\s+")
# Our own attributes on an <outline> (a channel's filter, /feed filter) live in this
# namespace, so other readers ignore them and ours never clash with theirs.
DIGESTBOT_NS: Final = "https://github.com/digestbot/digestbot/ns/opml"
_FILTER_PARTS = ("include", "exclude", "pattern")
_MAX_FILTER_PART = 1000  # read at most this much; the filter's own check refuses long parts
StdET.register_namespace("digestbot", DIGESTBOT_NS)


class OpmlError(Exception):
    """The file cannot be imported; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    title: str
    xml_url: str
    html_url: str | None = None
    filter: FeedFilter | None = None  # a channel's filter, exported as digestbot:* attributes


ImportStatus = Literal["added", "already", "failed"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    feed: OpmlFeed
    status: ImportStatus
    detail: str | None = None  # why it failed


def _clean(text: str | None, limit: int) -> str:
    return _SPACE.sub(" ", strip_control(text or "")).strip()[:limit]


def _local(tag: object) -> str:
    name = tag if isinstance(tag, str) else ""
    return name.rsplit("}", 1)[-1].lower()


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return _("{size:.1f} MiB", size=n / (1024 * 1024))
    return _("{size:.0f} KiB", size=n / 1024)


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML document (nested folders flattened, duplicates dropped, in order).

    Raises OpmlError for a file over 1 MiB, over 500 feeds, with a DTD or entities, that is not
    XML, that is not OPML, or that lists no feed.
    """
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(
            _(
                "The OPML file is {size}; the limit is {limit}. "
                "Split it into smaller files and import them one by one.",
                size=_size(len(data)),
                limit=_size(MAX_OPML_BYTES),
            )
        )
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True)
    except defusedxml.DefusedXmlException:
        raise OpmlError(
            _(
                "The OPML file declares a DTD or entities (<!DOCTYPE …>), which are refused "
                "for safety; OPML never needs them. Export the file again from your feed reader."
            )
        ) from None
    except StdET.ParseError as exc:
        line, column = exc.position
        raise OpmlError(
            _(
                "This file is not OPML: it is not well-formed XML (error at line {line}, "
                "column {column}). Export the file again from your feed reader.",
                line=line,
                column=column,
            )
        ) from None
    if _local(root.tag) != "opml":
        raise OpmlError(
            _(
                "This file is not OPML: its top element is <{top}>, not <opml>. If it is a "
                "feed itself, add it by its URL instead.",
                top=_clean(_local(root.tag), 40),
            )
        )
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for outline in root.iter():
        if _local(outline.tag) != "outline":
            continue
        # Attribute names ignore case: xmlUrl, xmlurl, XMLURL all occur in the wild.
        attrs = {_local(key): value for key, value in outline.attrib.items()}
        xml_url = _clean(attrs.get("xmlurl"), _MAX_URL)
        if not xml_url or xml_url in seen:
            continue
        seen.add(xml_url)
        title = _clean(attrs.get("title") or attrs.get("text"), _MAX_TITLE)
        html_url = _clean(attrs.get("htmlurl"), _MAX_URL) or None
        feeds.append(OpmlFeed(title or xml_url, xml_url, html_url, _filter_of(outline.attrib)))
    if len(feeds) > MAX_OPML_FEEDS:
        raise OpmlError(
            _(
                "The OPML file lists {count} feeds; at most {limit} can be imported at once. "
                "Split it into smaller files and import them one by one.",
                count=len(feeds),
                limit=MAX_OPML_FEEDS,
            )
        )
    if not feeds:
        raise OpmlError(
            _(
                "The OPML file lists no feeds (no <outline> has an xmlUrl). Check that you "
                "exported your subscriptions, not an empty folder."
            )
        )
    return feeds


def _filter_of(attrib: dict[str, str]) -> FeedFilter | None:
    """The digestbot:include/exclude/pattern attributes (not yet checked: the importer
    compiles them and reports a filter it cannot use)."""
    parts = [
        strip_control(attrib.get(f"{{{DIGESTBOT_NS}}}{part}") or "")[:_MAX_FILTER_PART].strip()
        or None
        for part in _FILTER_PARTS
    ]
    found = FeedFilter(*parts)
    return None if found.empty else found


def export_opml(feeds: Sequence[OpmlFeed], title: str) -> bytes:
    """An OPML 2.0 document listing `feeds` (UTF-8, with an XML declaration)."""
    root = StdET.Element("opml", version="2.0")
    head = StdET.SubElement(root, "head")
    StdET.SubElement(head, "title").text = _clean(title, _MAX_TITLE) or "digestbot feeds"
    StdET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = StdET.SubElement(root, "body")
    for feed in feeds:
        name = _clean(feed.title, _MAX_TITLE) or feed.xml_url
        attrs = {
            "type": "rss",
            "text": name,
            "title": name,
            "xmlUrl": _clean(feed.xml_url, _MAX_URL),
        }
        if feed.html_url:
            attrs["htmlUrl"] = _clean(feed.html_url, _MAX_URL)
        if feed.filter is not None:
            for part in _FILTER_PARTS:
                if value := getattr(feed.filter, part):
                    attrs[f"{{{DIGESTBOT_NS}}}{part}"] = value
        StdET.SubElement(body, "outline", attrs)
    StdET.indent(root)
    document: bytes = StdET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc) or type(exc).__name__
    return _clean(text, 300)


async def import_opml(
    feeds: Sequence[OpmlFeed],
    add: Callable[[str], Awaitable[Any]],
    *,
    progress: Callable[[int, int], Awaitable[None]] | None = None,
    concurrency: int = 4,
) -> list[ImportResult]:
    """Call `add(xml_url)` for each feed, `concurrency` at a time; one result per feed, in the
    order given. `add` returns True/False (added/already there) or an object with a boolean
    `created`; an exception is that feed's failure (its `message` or text is the reason).
    `progress(done, total)` is awaited after each feed (throttle expensive updates there; its
    errors are logged and ignored)."""
    total = len(feeds)
    done = 0
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(feed: OpmlFeed) -> ImportResult:
        nonlocal done
        async with gate:
            try:
                added = await add(feed.xml_url)
            except Exception as exc:
                if not hasattr(exc, "message"):
                    log.warning("OPML import: adding %s raised", feed.xml_url, exc_info=True)
                result = ImportResult(feed, "failed", _reason(exc))
            else:
                created = getattr(added, "created", added)  # AddedFeed, or a bool
                detail = getattr(added, "detail", None)  # a note on a feed that was added
                result = ImportResult(feed, "added" if created else "already", detail)
        done += 1
        if progress is not None:
            try:
                await progress(done, total)
            except Exception:  # a failed progress update never stops the import
                log.warning("OPML import: the progress callback raised", exc_info=True)
        return result

    # A TaskGroup: if the import is cancelled, no add is left running behind the caller.
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(feed)) for feed in feeds]
    return [task.result() for task in tasks]


def import_report(results: Sequence[ImportResult]) -> list[str]:
    """One line per feed, then a total: what the CLI prints and the cog attaches (the cog's
    answer quotes the total), in the current language."""
    words = {"added": _("added"), "already": _("already there"), "failed": _("failed")}
    lines = [
        f"{words[r.status]}: {r.feed.title} <{r.feed.xml_url}>"
        + (f" — {r.detail}" if r.detail else "")
        for r in results
    ]
    counts = _(
        "{added} added, {already} already there, {failed} failed",
        added=sum(r.status == "added" for r in results),
        already=sum(r.status == "already" for r in results),
        failed=sum(r.status == "failed" for r in results),
    )
    return [*lines, counts]
