"""Raw feed HTML → Discord markdown and plain text, with newsletter furniture removed.

Feed HTML is hostile: scripts, styles, frames, forms, inline SVG, `javascript:` links, tracking
pixels, hidden text. Nothing here ever emits raw HTML: the walk below only writes text it has
escaped and the few markdown constructs it builds itself (bold, italic, strike, code, links,
lists, quotes), so feedparser's own sanitizer (`sanitize_html`) and its relative-URI pass
(`resolve_relative_uris`) can stay off.

One lxml parse and one walk render markdown, text and the first content image together. The
walk is hand-written rather than markdownify's converter because the converter needs a
BeautifulSoup tree: on Substack posts bs4 building plus markdownify cost ~8 ms per 21 kB post,
more than the whole per-item budget (`python bench/text.py` prints the comparison).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree


@dataclass(frozen=True, slots=True)
class CleanContent:
    """Cleaned body: Discord markdown, plain text (blank line between paragraphs), lead image."""

    markdown: str
    text: str
    image_url: str | None


EMPTY_CONTENT = CleanContent("", "", None)

# Larger bodies are cut before parsing (lxml recovers from the cut): bounds the cost per item.
MAX_HTML_CHARS = 1_000_000
# libxml2 already stops nesting at 256 levels; this keeps the recursion (up to three frames
# per level) well inside Python's limit whatever the parser does.
_MAX_DEPTH = 200
# A paragraph longer than this is article text, never furniture.
_FURNITURE_MAX_CHARS = 300
_MAX_URL_CHARS = 2048

# Dropped with everything inside. Not here on purpose: embed, source, track and wbr, which
# libxml2's HTML parser does not know are void, so it nests the *following* content in them.
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
        "legend", "caption", "hgroup", "thead", "tbody", "tfoot", "body", "html",
    }
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BOLD_TAGS = frozenset({"strong", "b"})
_ITALIC_TAGS = frozenset({"em", "i", "cite", "dfn", "var"})
_STRIKE_TAGS = frozenset({"s", "strike", "del"})
_CODE_TAGS = frozenset({"code", "kbd", "samp", "tt"})

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
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_BACKTICK_RUN = re.compile(r"`{3,}")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_LEADING_INT = re.compile(r"^\s*(\d{1,6})")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_URL_WS = re.compile(r"[\t\n\r]")
_URL_BAD = re.compile(r"[\x00-\x1f\x7f]")
_URLISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)\S+$", re.IGNORECASE)

_WS = re.compile(r"\s{2,}|[^\S ]")  # a run of whitespace, or one that is not a plain space
_SPACES = re.compile(r"[ \t]{2,}")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
# Markdown Discord would act on anywhere in a line; `<` also stops <@id> and <t:…> syntax.
_MD_SPECIAL = re.compile(r"[\\*_~`|\[\]<]")
# Line starts Discord would read as a heading, subtext, quote or list: escape their marker.
_MD_LINE_START = re.compile(r"^(?:(-?)([#>+-])|(\d{1,9})([.)]))(?=\s|$|#|>)")

_local = threading.local()


def _parser() -> etree.HTMLParser:
    """One parser per thread: the pipeline cleans in worker threads, lxml parsers are not shared."""
    parser: etree.HTMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = lxml.html.HTMLParser(
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            encoding="utf-8",
            default_doctype=False,
        )
        _local.parser = parser
    return parser


def clean_html(html: str, base_url: str | None) -> CleanContent:
    """Clean one untrusted HTML body. Relative links and images resolve against `base_url`."""
    if not html or html.isspace():
        return EMPTY_CONTENT
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
    html = _CONTROL.sub("", html)
    try:
        root = lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=_parser())
    except (etree.LxmlError, ValueError):
        return EMPTY_CONTENT
    base = base_url if base_url and _is_http(base_url) else None
    body = root.find("body")
    renderer = _Renderer(base)
    renderer.render(body if body is not None else root)
    return renderer.result()


def safe_url(raw: str | None, base_url: str | None, *, allow_mailto: bool = False) -> str | None:
    """An absolute http(s) (or mailto) URL made from `raw`, or None when it is anything else."""
    if not raw:
        return None
    url = _URL_WS.sub("", raw.strip())
    if not url or len(url) > _MAX_URL_CHARS or url.startswith("#") or _URL_BAD.search(url):
        return None
    match = _SCHEME.match(url)
    if match:
        scheme = match.group(1).lower()
        if scheme == "mailto":
            return url if allow_mailto and len(url) > 7 else None
        if scheme not in ("http", "https"):
            return None
    elif url.startswith("//"):
        url = (base_url.split(":", 1)[0] if base_url else "https") + ":" + url
    elif base_url is None:
        return None
    else:
        try:
            url = urljoin(base_url, url)
        except ValueError:
            return None
    return url if _is_http(url) else None


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host)


def _int_attr(value: str | None) -> int | None:
    if not value:
        return None
    match = _LEADING_INT.match(value)
    return int(match.group(1)) if match else None


def _is_tracker(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.startswith(_TRACKER_HOST_PREFIXES):
        return True
    if any(host == d or host.endswith("." + d) for d in _TRACKER_DOMAINS):
        return True
    return _TRACKER_PATH.search(parts.path.lower()) is not None


def escape_markdown(text: str) -> str:
    """Backslash every character Discord markdown would act on."""
    if _MD_SPECIAL.search(text) is None:
        return text
    return _MD_SPECIAL.sub(_backslash, text)


def _backslash(match: re.Match[str]) -> str:
    return "\\" + match.group(0)


def _plain(raw: str) -> str:
    """Whitespace runs → one space; invisible characters (soft hyphen, zero-width) removed."""
    text = _WS.sub(" ", raw)
    return text if text.isascii() else _INVISIBLE.sub("", text)


def _md_url(url: str) -> str:
    return (
        url.replace(" ", "%20")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )


def _chomp(text: str) -> tuple[str, str, str]:
    """Split surrounding spaces off, so `**x **` becomes ` **x** `-style valid markup."""
    core = text.strip()
    if not core:
        return text, "", ""
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() else ""
    return lead, core, trail


def _split_backticks(match: re.Match[str]) -> str:
    """A run of backticks inside a fenced block would close it: split it with zero-width spaces."""
    return "\u200b".join(match.group(0))


def _escape_line_start(match: re.Match[str]) -> str:
    if match.group(3) is not None:
        return match.group(3) + "\\" + match.group(4)
    return match.group(1) + "\\" + match.group(2)


def _tidy(text: str, *, markdown: bool) -> str:
    """Collapse spaces, strip every line, drop empty lines; escape markdown line starts."""
    text = _SPACES.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    if markdown:
        lines = [_MD_LINE_START.sub(_escape_line_start, line, count=1) for line in lines]
    return "\n".join(line for line in lines if line)


@dataclass(slots=True)
class _Block:
    kind: str  # "p", "li" (list item or its continuation), "quote", "row", "pre", "h"
    markdown: str
    text: str
    group: int = 0  # blocks of one list or one quote share a group and sit on adjacent lines


class _Renderer:
    """Walks an lxml tree once; inline runs accumulate until a block boundary flushes them."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.blocks: list[_Block] = []
        self.md: list[str] = []
        self.tx: list[str] = []
        self.image: str | None = None
        self.flushes = 0
        self.bold = 0
        self.italic = 0
        self.strike = 0
        self.heading = False
        self.quote = 0
        self.in_link = False
        self.lists: list[list[int]] = []  # per open list: [next number or 0 for bullets]
        self.marker: str | None = None  # list marker waiting for the item's first block
        self.cells = 0
        self.groups = 0  # counts top-level lists, quotes and tables
        self.row = False
        self.lead = ""  # text owed to the next block (a footnote's number)

    # ---- output -------------------------------------------------------------------------

    def result(self) -> CleanContent:
        self.flush()
        md_out: list[str] = []
        tx_out: list[str] = []
        prev: tuple[str, int] = ("", 0)
        for block in self.blocks:
            tight = prev == (block.kind, block.group) and block.kind in ("li", "quote", "row")
            if md_out:
                md_out.append("\n" if tight else "\n\n")
                tx_out.append("\n" if tight and block.kind != "quote" else "\n\n")
            md_out.append(block.markdown)
            tx_out.append(block.text)
            prev = (block.kind, block.group)
        return CleanContent("".join(md_out), "".join(tx_out), self.image)

    def flush(self) -> None:
        """End the current inline run: turn it into a block unless it is empty or furniture."""
        if not self.tx and not self.md:
            return
        self.flushes += 1
        raw_text = "".join(self.tx)
        raw_md = "".join(self.md)
        self.tx.clear()
        self.md.clear()
        if "reader" in raw_text and "supported" in raw_text:
            raw_text = _READER_SUPPORTED.sub("", raw_text)
            raw_md = _READER_SUPPORTED.sub("", raw_md)
        text = _tidy(raw_text, markdown=False)
        if not text:
            return
        if len(text) <= _FURNITURE_MAX_CHARS and _FURNITURE_BLOCK.match(text):
            return
        md = _tidy(raw_md, markdown=True)
        if not md:
            return
        if self.lead:
            text = self.lead + text
            md = escape_markdown(self.lead) + md
            self.lead = ""
        kind = "p"
        if self.heading:
            kind = "h"
            md = "**" + md.replace("\n", " ") + "**"
        if self.lists:
            kind = "li"
            indent = "  " * (len(self.lists) - 1)
            if self.marker is not None:
                md = indent + self.marker + md.replace("\n", "\n" + indent + "  ")
                self.marker = None
            else:
                md = indent + "  " + md.replace("\n", "\n" + indent + "  ")
        elif self.quote:
            kind = "quote"
            md = "> " + md.replace("\n", "\n> ")
        elif self.row:
            kind = "row"
        self.blocks.append(_Block(kind, md, text, self.groups))

    def add_block(self, markdown: str, text: str) -> None:
        self.flush()
        self.blocks.append(_Block("p", markdown, text))

    def add_text(self, raw: str) -> None:
        text = _plain(raw)
        if text:
            self.tx.append(text)
            self.md.append(escape_markdown(text))

    # ---- walk ---------------------------------------------------------------------------

    def render(self, root: etree._Element) -> None:
        self.children(root, 0)

    def children(self, el: etree._Element, depth: int) -> None:
        if el.text:
            self.add_text(el.text)
        if depth >= _MAX_DEPTH:
            return
        for child in el:
            tag = child.tag
            if isinstance(tag, str):
                self.element(child, tag, depth + 1)
            if child.tail:
                self.add_text(child.tail)

    def element(self, el: etree._Element, tag: str, depth: int) -> None:
        if tag in _DROP_TAGS:
            if tag == "iframe":
                self.embed(el)
            return
        cls = el.get("class")
        tokens = cls.split() if cls else ()
        if tokens and not _FURNITURE_CLASSES.isdisjoint(tokens):
            return
        component = el.get("data-component-name")
        if component in _FURNITURE_COMPONENTS:
            return
        if self.hidden(el):
            return
        if tokens and self.special(el, tokens, depth):
            return
        if tag == "a":
            self.link(el, depth)
        elif tag in _BOLD_TAGS:
            self.wrap(el, depth, "**", "bold")
        elif tag in _ITALIC_TAGS:
            self.wrap(el, depth, "*", "italic")
        elif tag in _STRIKE_TAGS:
            self.wrap(el, depth, "~~", "strike")
        elif tag == "img":
            self.img(el)
        elif tag == "br":
            self.tx.append("\n")
            self.md.append("\n")
        elif tag in _CODE_TAGS:
            self.code(el)
        elif self.in_link:
            # Block markup inside a link (card links): keep it inline so the link survives.
            self.add_text(" ")
            self.children(el, depth)
            self.add_text(" ")
        elif tag in _BLOCK_TAGS or tag == "hr":
            self.flush()
            self.children(el, depth)
            self.flush()
        elif tag in _HEADINGS:
            self.flush()
            self.heading = True
            self.bold += 1
            self.children(el, depth)
            self.flush()
            self.bold -= 1
            self.heading = False
        elif tag in ("ul", "ol"):
            self.list(el, tag, depth)
        elif tag == "li":
            self.item(el, depth)
        elif tag == "blockquote":
            self.flush()
            if not self.quote and not self.lists:
                self.groups += 1
            self.quote += 1
            self.children(el, depth)
            self.flush()
            self.quote -= 1
        elif tag == "pre":
            self.pre(el)
        elif tag == "table":
            self.flush()
            if not self.quote and not self.lists:
                self.groups += 1
            self.children(el, depth)
            self.flush()
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
                self.md.append(" \\| ")
            self.cells += 1
            self.children(el, depth)
        else:
            self.children(el, depth)

    def hidden(self, el: etree._Element) -> bool:
        if el.get("hidden") is not None or el.get("aria-hidden") == "true":
            return True
        style = el.get("style")
        return style is not None and _HIDDEN_STYLE.search(style) is not None

    def special(self, el: etree._Element, tokens: tuple[str, ...] | list[str], depth: int) -> bool:
        """Substack widgets that carry their content in data-attrs. True when handled."""
        if "mention-wrap" in tokens:
            attrs = _data_attrs(el)
            name = attrs.get("name")
            if isinstance(name, str) and name.strip():
                url = attrs.get("url")
                href = safe_url(url, None) if isinstance(url, str) else None
                self.inline_link(name.strip(), href)
                return True
            return False
        if "digest-post-embed" in tokens or "embedded-post-wrap" in tokens:
            attrs = _data_attrs(el)
            title = attrs.get("title")
            url = attrs.get("canonical_url") or attrs.get("url")
            href = safe_url(url, None) if isinstance(url, str) else None
            if isinstance(title, str) and title.strip() and href and not self.in_link:
                title = _WS.sub(" ", title).strip()
                self.add_block(f"[{escape_markdown(title)}]({_md_url(href)})", title)
                return True
            return False
        if "footnote-number" in tokens:
            number = _plain(el.text_content()).strip()
            if number:
                self.lead = f"[{number}] "
            return True
        return False

    def inline_link(self, label: str, href: str | None) -> None:
        label = _plain(label)
        self.tx.append(label)
        if href and not self.in_link:
            self.md.append(f"[{escape_markdown(label)}]({_md_url(href)})")
        else:
            self.md.append(escape_markdown(label))

    def link(self, el: etree._Element, depth: int) -> None:
        raw = el.get("href") or ""
        if raw.lstrip().startswith(("#fn", "#footnote")) or (
            el.text_content().strip() in _BACKLINK_TEXTS
        ):
            return  # footnote references and back-links
        href = safe_url(raw, self.base, allow_mailto=True)
        if href is None or self.in_link:
            self.children(el, depth)
            return
        start_md, start_tx, flushes = len(self.md), len(self.tx), self.flushes
        self.in_link = True
        self.children(el, depth)
        self.in_link = False
        if self.flushes != flushes:
            return
        label_text = "".join(self.tx[start_tx:]).strip()
        inner = "".join(self.md[start_md:]).replace("\n", " ")
        del self.md[start_md:]
        lead, core, trail = _chomp(inner)
        if not core or not label_text:
            self.md.append(lead)
            return
        if _URLISH.match(label_text):
            # A URL-looking label may lie about its target: show the real one.
            self.md.append(f"{lead}<{_md_url(href)}>{trail}")
        else:
            self.md.append(f"{lead}[{core}]({_md_url(href)}){trail}")

    def wrap(self, el: etree._Element, depth: int, marker: str, attr: str) -> None:
        active: int = getattr(self, attr)
        if active:
            self.children(el, depth)
            return
        start, flushes = len(self.md), self.flushes
        setattr(self, attr, 1)
        self.children(el, depth)
        setattr(self, attr, 0)
        if self.flushes != flushes:
            return
        lead, core, trail = _chomp("".join(self.md[start:]))
        del self.md[start:]
        self.md.append(f"{lead}{marker}{core}{marker}{trail}" if core else lead)

    def code(self, el: etree._Element) -> None:
        text = _plain(el.text_content())
        lead, core, trail = _chomp(text)
        if not core:
            self.add_text(lead)
            return
        self.tx.append(text)
        # A backtick inside would end the span early: show a look-alike (ˋ) instead.
        self.md.append(f"{lead}`{core.replace('`', 'ˋ')}`{trail}")

    def pre(self, el: etree._Element) -> None:
        text = _INVISIBLE.sub("", el.text_content().replace("\r\n", "\n"))
        text = _BLANK_LINES.sub("\n\n", text).strip("\n")
        if not text.strip():
            return
        if self.in_link:
            self.add_text(text)
            return
        self.flush()
        body = _BACKTICK_RUN.sub(_split_backticks, text)
        self.blocks.append(_Block("pre", f"```\n{body}\n```", text))

    def list(self, el: etree._Element, tag: str, depth: int) -> None:
        self.flush()
        if not self.quote and not self.lists:
            self.groups += 1
        start = _int_attr(el.get("start")) if tag == "ol" else None
        self.lists.append([start if start is not None else (1 if tag == "ol" else 0)])
        self.children(el, depth)
        self.flush()
        self.lists.pop()

    def item(self, el: etree._Element, depth: int) -> None:
        self.flush()
        if self.lists:
            counter = self.lists[-1]
            if counter[0]:
                self.marker = f"{counter[0]}. "
                counter[0] += 1
            else:
                self.marker = "- "
        self.children(el, depth)
        self.flush()
        self.marker = None

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
            if url is None:
                continue
            path = urlsplit(url).path.lower()
            if _is_tracker(url) or path.endswith((".svg", ".ico")):
                return
            self.image = url
            return

    def embed(self, el: etree._Element) -> None:
        """Frames are dropped; a YouTube player becomes a link to the video."""
        match = _YOUTUBE_EMBED.match((el.get("src") or "").strip())
        if match is None or self.in_link:
            return
        url = f"https://www.youtube.com/watch?v={match.group(1)}"
        self.add_block(f"[YouTube video]({url})", "YouTube video")


def _data_attrs(el: etree._Element) -> dict[str, object]:
    raw = el.get("data-attrs")
    if not raw or len(raw) > 100_000:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested thousands deep
        return {}
    return value if isinstance(value, dict) else {}
