"""`{excerpt}`: an article's opening as Discord markdown, made when a post is rendered.

The archived raw opening (items.opening_html) loses what bot.text.clean drops, and images and
embeds too; bold, italics, links, lists, quotes and headings (as bold lines) stay for
markdownify. Every text node passes the gate (bot.safe: no pings, its own markdown escaped) and
every link target is a `safe_url`, so the only markdown in the result is the article's own
structure. CPU-bound: run it in a thread from the event loop.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree
from markdownify import markdownify

from bot.safe import (
    ELLIPSIS,
    escape_markdown,
    link_target,
    neutralize_mentions,
    safe_url,
    strip_control,
)
from bot.text.clean import BLANK_LINES, is_furniture, is_furniture_text, parse_html

# Raw HTML read (the archive keeps about this much) and article text kept before markdownify:
# an excerpt is an opening, never a whole long post.
MAX_SOURCE_HTML = 20_000
OPENING_TEXT_CHARS = 3_000

_KEPT = ("p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "blockquote")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Media and layout whose content is not the story's text.
_DROPPED = frozenset(
    {"img", "picture", "figure", "figcaption", "video", "audio", "source", "table", "hr", "pre"}
)
_BLOCKS = frozenset({"p", "li", "blockquote", "div", "section", *_HEADINGS})
_TRAILING = " \t\n,;:-–—"
# Markdown atoms a cut never splits: a masked link, an autolink, an escape, an emphasis mark.
_ATOM = re.compile(
    r"\[(?:\\.|[^\]\\\n])*\]\((?:[^()\s]|\([^()\s]*\))*\)"
    r"|<https?://[^>\s]+>|\\.|\*\*|\*|\s+|[^\s\\\[*<]+|.",
    re.DOTALL,
)


def _gate(text: str | None) -> str | None:
    """Article text as markdown shows it literally: no pings, no markdown of its own."""
    return escape_markdown(neutralize_mentions(text)) if text else text


def _clean(el: lxml.html.HtmlElement, base: str | None) -> None:
    """Clean `el`'s subtree in place (see the module docstring)."""
    el.text = _gate(el.text)
    for child in list(el):
        if not isinstance(child.tag, str) or is_furniture(child) or child.tag in _DROPPED:
            child.drop_tree()  # keeps the tail text, which belongs to the parent
            continue
        child.tail = _gate(child.tail)
        _clean(child, base)
        tag = child.tag
        href = safe_url(child.get("href"), base, allow_mailto=True) if tag == "a" else None
        child.attrib.clear()
        if tag == "a":
            if href is None:
                child.drop_tag()
            else:
                child.set("href", link_target(href))
        elif tag in _HEADINGS:
            child.tag = "p"
            strong = etree.SubElement(child, "strong")
            strong.text, child.text = child.text, None
            for part in list(child)[:-1]:
                strong.append(part)
        elif tag in _BLOCKS and is_furniture_text(child.text_content()):
            child.drop_tree()


def _opening(body: lxml.html.HtmlElement) -> None:
    """Drop the top-level blocks after the first OPENING_TEXT_CHARS characters of text."""
    seen = 0
    for child in list(body):
        if seen >= OPENING_TEXT_CHARS:
            child.drop_tree()
        else:
            seen += len(child.text_content())


def excerpt_markdown(html: str | None, base_url: str | None) -> str:
    """The opening of an article's raw HTML as safe Discord markdown ('' when nothing is left)."""
    if not html or html.isspace():
        return ""
    root = parse_html(html[:MAX_SOURCE_HTML])
    body = None if root is None else root.find("body")
    if body is None:
        return ""
    base = base_url if safe_url(base_url) else None
    _clean(body, base)
    _opening(body)
    markdown = markdownify(
        lxml.html.tostring(body, encoding="unicode"),
        convert=list(_KEPT),
        escape_asterisks=False,  # text nodes were escaped by the gate already
        escape_underscores=False,
        escape_misc=False,
        bullets="-",
    )
    return BLANK_LINES.sub("\n\n", strip_control(markdown)).strip()


def cut_markdown(markdown: str, limit: int) -> str:
    """At most `limit` characters of markdown, cut at a word with "…": a link or an escape is
    never split and bold or italics left open are closed."""
    if len(markdown) <= limit:
        return markdown
    if limit <= 1:
        return ELLIPSIS[:limit]
    out: list[str] = []
    stack: list[str] = []
    length = 0
    breaks: list[tuple[int, int, tuple[str, ...]]] = []  # (atoms kept, length, open marks)
    for atom in (m.group() for m in _ATOM.finditer(markdown)):
        after = list(stack)
        if atom in ("**", "*"):
            if after and after[-1] == atom:
                after.pop()
            else:
                after.append(atom)
        if length + len(atom) + sum(map(len, after)) + len(ELLIPSIS) > limit:
            break
        if atom.isspace():
            breaks.append((len(out), length, tuple(stack)))
        out.append(atom)
        length += len(atom)
        stack = after
    kept, marks = len(out), tuple(stack)
    if breaks and breaks[-1][1] >= limit // 2:
        kept, _length, marks = breaks[-1]
    head = out[:kept]
    open_marks = list(marks)
    while open_marks and head and head[-1] == open_marks[-1]:
        head.pop()  # an emphasis opened right at the cut: drop it rather than close it empty
        open_marks.pop()
    text = "".join(head).rstrip(_TRAILING)
    if (len(text) - len(text.rstrip("\\"))) % 2:
        text = text[:-1]  # a lone backslash would escape what follows
    return text + "".join(reversed(open_marks)) + ELLIPSIS
