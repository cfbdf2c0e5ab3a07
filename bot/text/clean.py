"""Raw feed HTML → plain text and a lead image, with newsletter furniture removed.

Feed HTML is hostile (scripts, frames, forms, SVG, `javascript:` links, tracking pixels, hidden
text), so nothing here emits HTML: one lxml parse and one walk keep only text nodes (blank line
between blocks, one line per list item or table row) and the first content image, whose URL
must pass `safe_url`. feedparser's sanitizer and relative-URI pass can therefore stay off.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from bot.safe import safe_url, strip_control


@dataclass(frozen=True, slots=True)
class CleanContent:
    """Cleaned body: plain text (blank line between paragraphs) and the lead image."""

    text: str
    image_url: str | None
    # Paragraphs of `text` that caption a figure: searchable, but not the story's sentences.
    captions: frozenset[str] = frozenset()


EMPTY_CONTENT = CleanContent("", None)

# Larger bodies are cut before parsing (lxml recovers from the cut): bounds the cost per item.
MAX_HTML_CHARS = 1_000_000
# libxml2 already stops nesting at 256 levels; this keeps the recursion (two frames per
# level) well inside Python's limit whatever the parser does.
_MAX_DEPTH = 200
# A paragraph longer than this is article text, never furniture.
_FURNITURE_MAX_CHARS = 300

_DROP_TAGS = frozenset(
    {
        "script", "style", "object", "form", "svg", "math", "noscript", "template", "head",
        "meta", "link", "title", "base", "button", "input", "select", "textarea", "option",
        "label", "canvas", "audio", "video", "map", "area", "nav", "dialog", "frame",
        "frameset", "applet", "param", "portal", "iframe",
    }
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "main", "aside", "figure",
        "figcaption", "address", "details", "summary", "center", "dl", "dt", "dd", "fieldset",
        "legend", "caption", "hgroup", "thead", "tbody", "tfoot", "body", "html", "hr", "li",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip

# Class tokens of newsletter chrome (Substack, WordPress/Jetpack, Ghost, generic share bars).
_FURNITURE_CLASSES = frozenset(
    {
        "subscription-widget-wrap-editor", "subscription-widget-wrap", "subscription-widget",
        "subscribe-widget", "subscribe-footer", "subscribe-prompt", "subscribe-cta",
        "share-dialog", "share", "share-button", "share-buttons", "sharing", "sharedaddy",
        "social-share", "share-links", "post-ufi", "image-link-expand", "restack-image",
        "view-image", "icon-container", "footnote-anchor", "footnote-backref", "footnote-return",
        "reversefootnote", "fake-input-wrapper", "email-input", "paywall", "paywall-jump",
        "install-substack-app-embed", "jp-relatedposts", "kg-signup-card", "gh-signup",
        "newsletter-signup", "screen-reader-text", "sr-only", "visually-hidden",
    }
)  # fmt: skip
_FURNITURE_COMPONENTS = frozenset({"SubscribeWidgetToDOM", "PaywallToDOM", "FootnoteAnchorToDOM"})
_BACKLINK_TEXTS = frozenset({"↩", "↩\ufe0e", "↩\ufe0f", "↑", "^", "⤴", "⮌"})

# Short paragraphs that are only newsletter chrome.
_FURNITURE_BLOCK = re.compile(
    r"^(?:subscribe(?: now| for free| today| here)?|share(?: this (?:post|article|episode))?"
    r"|share [\w .,'’&-]{1,40}|leave a comment|comment|give a gift subscription"
    r"|upgrade to paid|get \d{1,3}% off\b.*|type your email.*|restack|like"
    r"|thanks for reading\b.{0,160}\bsubscribe\b.*"
    r"|this post is public so feel free to share it\.?|listen now|read in app)[.!…]?$",
    re.IGNORECASE,
)
# The Substack call-to-action sentence(s); also inlined into run-on podcast descriptions.
_READER_SUPPORTED = re.compile(
    r"[^.!?\n]{0,80}?\bis a reader[- ]supported publication\."
    r"(?:[^.!?\n]{0,120}?\bsubscriber\.)?",
    re.IGNORECASE,
)

_TRACKER_DOMAINS = (
    "feedburner.com", "feedproxy.google.com", "pixel.wp.com", "stats.wp.com",
    "stats.wordpress.com", "google-analytics.com", "googletagmanager.com", "doubleclick.net",
    "scorecardresearch.com", "quantserve.com", "list-manage.com", "ct.sendgrid.net",
    "mandrillapp.com", "hs-analytics.net", "eotrx.substackcdn.com", "feedblitz.com",
    "bat.bing.com", "analytics.twitter.com", "mc.yandex.ru", "statcounter.com",
    "pixel.substack.com", "email.mg.substack.com", "mailchimp.com", "exct.net",
)  # fmt: skip
_TRACKER_HOST_PREFIXES = ("pixel.", "track.", "tracking.", "beacon.", "stats.", "analytics.")
_TRACKER_PATH = re.compile(
    r"(?:^|/)(?:pixel|beacon|1x1|spacer|blank|transparent|__ptq|utm|tr)(?:\.(?:gif|png|php))?"
    r"(?:$|[/?])|/track/open|/open\.(?:gif|png)|/wf/open|/e/o/"
)
_ICON_CLASS = re.compile(r"emoji|smiley|icon|avatar|logo|badge", re.IGNORECASE)
_YOUTUBE_EMBED = re.compile(
    r"^https?://(?:www\.)?youtube(?:-nocookie)?\.com/embed/([A-Za-z0-9_-]{6,20})(?:[?#]|$)"
)
# Inline markup: only its text is kept.
_INLINE_TAGS = frozenset(
    {
        "strong", "b", "em", "i", "cite", "dfn", "var", "s", "strike", "del", "code", "kbd",
        "samp", "tt", "span", "small", "sub", "sup", "u", "mark", "abbr", "q", "time", "ins",
    }
)  # fmt: skip
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_LEADING_INT = re.compile(r"^\s*(\d{1,6})")

_WS = re.compile(r"\s{2,}|[^\S ]")  # a run of whitespace, or one that is not a plain space
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")

_local = threading.local()


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """Hostile HTML as an lxml document, control characters dropped; None when nothing in it
    parses (only whitespace, say). One parser per thread (the pipeline cleans in worker
    threads; lxml parsers are not shared); comments and processing instructions never become
    text."""
    parser: etree.HTMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = lxml.html.HTMLParser(
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            encoding="utf-8",
            default_doctype=False,
        )
    try:
        data = strip_control(html).encode("utf-8", "replace")
        return lxml.html.document_fromstring(data, parser=parser)
    except (etree.LxmlError, ValueError):
        return None


def clean_html(html: str, base_url: str | None) -> CleanContent:
    """Clean one untrusted HTML body. A relative image resolves against `base_url`."""
    root = parse_html(html[:MAX_HTML_CHARS])
    if root is None:
        return EMPTY_CONTENT
    walker = _Walker(base_url if safe_url(base_url) else None)
    body = root.find("body")
    walker.children(body if body is not None else root, 0)
    return walker.result()


def is_furniture(el: etree._Element) -> bool:
    """True for an element the clean-up drops whole: scripts, frames and other dropped tags,
    newsletter widgets (by class or component name) and hidden elements. (bot.text.excerpt
    uses it on the HTML it keeps.)"""
    tag = el.tag
    if not isinstance(tag, str) or tag in _DROP_TAGS:
        return True
    cls = el.get("class")
    if cls and not _FURNITURE_CLASSES.isdisjoint(cls.split()):
        return True
    if el.get("data-component-name") in _FURNITURE_COMPONENTS:
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    return style is not None and _HIDDEN_STYLE.search(style) is not None


def is_furniture_text(text: str) -> bool:
    """True for a short paragraph that is only newsletter chrome ("Subscribe now", "Share")."""
    text = text.strip()
    return len(text) <= _FURNITURE_MAX_CHARS and (
        not text
        or _FURNITURE_BLOCK.match(text) is not None
        or ("supported" in text and not _READER_SUPPORTED.sub("", text).strip())
    )


def _int_attr(value: str | None) -> int | None:
    match = _LEADING_INT.match(value or "")
    return int(match.group(1)) if match else None


def _is_lead_image(url: str) -> bool:
    """False for tracking pixels and icons (.svg, .ico)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.lower()
    return not (
        host.startswith(_TRACKER_HOST_PREFIXES)
        or any(host == d or host.endswith("." + d) for d in _TRACKER_DOMAINS)
        or _TRACKER_PATH.search(path)
        or path.endswith((".svg", ".ico"))
    )


# Stands for a <br> until a block's whitespace is collapsed (input control characters,
# this one included, are removed before parsing, so it cannot come from the feed).
_BR = "\x00"


def _lines(text: str) -> str:
    """Strip every line and drop empty ones."""
    if "\n" not in text:
        return text.strip()
    return "\n".join(line for line in (part.strip() for part in text.split("\n")) if line)


class _Walker:
    """Walks an lxml tree once; text runs accumulate until a block boundary flushes them. A
    block is (kind, text, group), kind "p", "li", "quote", "row" or "pre": consecutive items of
    one list, or rows of one table, sit on adjacent lines; a blank line separates the others."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.blocks: list[tuple[str, str, int]] = []
        self.tx: list[str] = []
        self.image: str | None = None
        self.quote = 0
        self.in_link = False
        self.lists = 0
        self.cells = 0
        self.groups = 0  # counts top-level lists, quotes and tables
        self.row = False
        self.lead = ""  # text owed to the next block (a footnote's number)
        self.in_caption = False
        self.captions: list[str] = []

    def result(self) -> CleanContent:
        self.flush()
        out = [text for _kind, text, _group in self.blocks[:1]]
        for (before, _text, group_before), (kind, text, group) in pairwise(self.blocks):
            tight = kind in ("li", "row") and (before, group_before) == (kind, group)
            out += ["\n" if tight else "\n\n", text]
        return CleanContent("".join(out), self.image, frozenset(self.captions))

    def flush(self) -> None:
        """End the current text run: turn it into a block unless it is empty or furniture."""
        if not self.tx:
            return
        text = _WS.sub(" ", "".join(self.tx))
        self.tx.clear()
        if not text.isascii():
            text = _INVISIBLE.sub("", text)
        if _BR in text:
            text = text.replace(_BR, "\n")
        if "reader" in text and "supported" in text:
            text = _READER_SUPPORTED.sub("", text)
        text = _lines(text)
        if is_furniture_text(text):
            return
        text, self.lead = self.lead + text, ""
        kind = "li" if self.lists else "quote" if self.quote else "row" if self.row else "p"
        self.blocks.append((kind, text, self.groups))
        if self.in_caption:
            self.captions.extend(_lines(text).split("\n"))

    def add_block(self, text: str) -> None:
        self.flush()
        self.blocks.append(("p", text, 0))

    def children(self, el: etree._Element, depth: int) -> None:
        if el.text:
            self.tx.append(el.text)
        if depth >= _MAX_DEPTH:
            return
        for child in el:
            tag = child.tag
            if isinstance(tag, str):
                self.element(child, tag, depth + 1)
            if child.tail:
                self.tx.append(child.tail)

    def element(self, el: etree._Element, tag: str, depth: int) -> None:
        if is_furniture(el):
            if tag == "iframe":
                self.embed(el)
            return
        tokens = (el.get("class") or "").split()
        if tokens and self.special(el, tokens):
            return
        if tag == "a":
            self.link(el, depth)
        elif tag in _INLINE_TAGS:
            self.children(el, depth)
        elif tag == "img":
            self.img(el)
        elif tag == "br":
            self.tx.append(_BR)
        elif self.in_link:
            # Block markup inside a link (card links): kept inline, like the link's text.
            self.tx.append(" ")
            self.children(el, depth)
            self.tx.append(" ")
        elif tag in _BLOCK_TAGS:
            self.flush()
            caption, self.in_caption = self.in_caption, self.in_caption or tag == "figcaption"
            self.children(el, depth)
            self.flush()
            self.in_caption = caption
        elif tag in ("ul", "ol", "blockquote", "table"):
            self.flush()
            if not self.quote and not self.lists:
                self.groups += 1
            quote, lists = tag == "blockquote", tag in ("ul", "ol")
            self.quote += quote
            self.lists += lists
            self.children(el, depth)
            self.flush()
            self.quote -= quote
            self.lists -= lists
        elif tag == "pre":
            self.pre(el)
        elif tag == "tr":
            self.flush()
            self.cells = 0
            self.row = True
            self.children(el, depth)
            self.flush()
            self.row = False
        elif tag in ("td", "th"):
            if self.cells:
                self.tx.append(" | ")
            self.cells += 1
            self.children(el, depth)
        else:
            self.children(el, depth)

    def special(self, el: etree._Element, tokens: list[str]) -> bool:
        """Substack widgets that carry their content in data-attrs. True when handled."""
        if "mention-wrap" in tokens:
            name = _data_attrs(el).get("name")
            if isinstance(name, str) and name.strip():
                self.tx.append(name.strip())
                return True
            return False
        if "digest-post-embed" in tokens or "embedded-post-wrap" in tokens:
            attrs = _data_attrs(el)
            title = attrs.get("title")
            url = attrs.get("canonical_url") or attrs.get("url")
            href = safe_url(url, None) if isinstance(url, str) else None
            if isinstance(title, str) and title.strip() and href and not self.in_link:
                self.add_block(_WS.sub(" ", title).strip())
                return True
            return False
        if "footnote-number" in tokens:
            number = _WS.sub(" ", _pre_text(el)).strip()
            if number:
                self.lead = f"[{number}] "
            return True
        return False

    def link(self, el: etree._Element, depth: int) -> None:
        if (el.get("href") or "").lstrip().startswith(("#fn", "#footnote")) or (
            el.text_content().strip() in _BACKLINK_TEXTS
        ):
            return  # footnote references and back-links
        outer, self.in_link = self.in_link, True
        self.children(el, depth)
        self.in_link = outer

    def pre(self, el: etree._Element) -> None:
        text = _INVISIBLE.sub("", _pre_text(el).replace("\r\n", "\n"))
        text = BLANK_LINES.sub("\n\n", text).strip("\n")
        if not text.strip():
            return
        if self.in_link:
            self.tx.append(text)
            return
        self.flush()
        self.blocks.append(("pre", text, 0))

    def img(self, el: etree._Element) -> None:
        if self.image is not None:
            return
        width, height = _int_attr(el.get("width")), _int_attr(el.get("height"))
        if (width is not None and width < 64) or (height is not None and height < 64):
            return  # pixels, spacers and icons
        if _ICON_CLASS.search(el.get("class") or ""):
            return
        for attr in ("src", "data-src", "data-lazy-src", "data-original"):
            url = safe_url(el.get(attr), self.base)
            if url is not None:
                if _is_lead_image(url):
                    self.image = url
                return

    def embed(self, el: etree._Element) -> None:
        """Frames are dropped; a YouTube player leaves a line saying there was a video."""
        if _YOUTUBE_EMBED.match((el.get("src") or "").strip()) and not self.in_link:
            self.add_block("YouTube video")


def _pre_text(el: etree._Element, depth: int = 0) -> str:
    """An element's text as written (whitespace kept), without the elements the walk drops
    (a script's or textarea's raw content is never text)."""
    parts = [el.text or ""]
    if depth < _MAX_DEPTH:
        for child in el:
            if isinstance(child.tag, str) and child.tag not in _DROP_TAGS:
                parts.append(_pre_text(child, depth + 1))
            parts.append(child.tail or "")
    return "".join(parts)


def _data_attrs(el: etree._Element) -> dict[str, object]:
    raw = el.get("data-attrs")
    if not raw or len(raw) > 100_000:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested thousands deep
        return {}
    return value if isinstance(value, dict) else {}
