"""Checks on a model's summary before it is used: the output is hostile text, like the feed.

`accept_llm_summary` returns a cleaned one-paragraph summary that pings no one and is at most
`MAX_SUMMARY_CHARS` long, or None when the output is not a plain-prose summary (empty, far too
long, code, markdown structure, links that are not in the item, refusals and preambles, an
unfinished reasoning block). None means: use the offline summary instead.
"""

from __future__ import annotations

import re

from bot.safe import neutralize_mentions, strip_invisible
from bot.text.llm_prompt import SummaryInput

MAX_SUMMARY_CHARS = 400
MAX_RAW_CHARS = 600
MIN_SUMMARY_CHARS = 10
ELLIPSIS = "…"

_THINK_BLOCK = re.compile(r"^\s*<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"</?think(?:ing)?>", re.IGNORECASE)
_LABEL_PREFIX = re.compile(
    r"^\s*(?:\*\*|__)?\s*(?:summary|tl;?\s?dr|abstract|résumé|resumen|zusammenfassung|要約|摘要)"
    r"\s*(?:\*\*|__)?\s*[:：\-–—]\s*(?:\*\*|__)?\s*",
    re.IGNORECASE,
)
_CODE = re.compile(r"```|~~~|<code>|<pre>", re.IGNORECASE)
_STRUCTURE_LINE = re.compile(r"^\s*(?:#{1,6}\s|[-*+•·]\s|\d{1,2}[.)]\s|>\s|\|.*\|)", re.MULTILINE)
_MASKED_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'`]+|\bdiscord(?:app)?\.(?:gg|com)/[^\s<>\"'`]*",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}>'\"…。、"
_NOT_A_SUMMARY = re.compile(
    r"\bas an? (?:ai|artificial intelligence|language model|large language model|assistant)\b"
    r"|\bas a (?:large )?language model\b"
    r"|\bi (?:cannot|can not|can't|am unable|'m unable|am not able|won't|will not|apologi[sz]e)\b"
    r"|\bi'm sorry\b|\bsorry, (?:but )?i\b"
    r"|\b(?:here is|here's|here are|below is|following is)\b[^.!?\n]{0,40}\bsummar"
    r"|^(?:sure|certainly|of course|okay|ok|absolutely)[,.!]"
    r"|\bi hope this helps\b|\blet me know\b",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?][\"'”’»)\]]*(?= )|[。！？]")
_QUOTES = {'"': '"', "“": "”", "'": "'", "「": "」", "«": "»"}


def _strip_wrapping_quotes(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        inner = text[1:-1]
        if text[0] not in inner and text[-1] not in inner:
            return inner.strip()
    return text


def _urls_known(text: str, item: SummaryInput) -> bool:
    """True when every URL in `text` also appears in the item (its link, text or description)."""
    haystack = " ".join(part for part in (item.url or "", item.text, item.description)).lower()
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING).lower()
        if url and url not in haystack:
            return False
    return True


def truncate_summary(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """Cut to at most `limit` characters: at a sentence end in the last third if there is one
    (no ellipsis needed), else at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    window = text[: limit + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if ends and ends[-1] >= limit * 2 // 3:
        return text[: ends[-1]].rstrip()
    head = text[: limit - len(ELLIPSIS)]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-–—") + ELLIPSIS


def accept_llm_summary(text: str, item: SummaryInput) -> str | None:
    """Return the model's summary cleaned for Discord, or None if it must not be used."""
    if not text or not text.strip():
        return None
    text = _THINK_BLOCK.sub("", text, count=1)
    if _THINK_OPEN.search(text):
        return None
    text = strip_invisible(text).strip()
    if not text or len(text) > MAX_RAW_CHARS:
        return None
    text = _strip_wrapping_quotes(_LABEL_PREFIX.sub("", text, count=1).strip())
    if _CODE.search(text) or _STRUCTURE_LINE.search(text) or _MASKED_LINK.search(text):
        return None
    if _NOT_A_SUMMARY.search(text.replace("’", "'")):
        return None
    if not _urls_known(text, item):
        return None
    text = _SPACES.sub(" ", _EMPHASIS.sub("", text)).strip()
    if len(text) < MIN_SUMMARY_CHARS:
        return None
    return truncate_summary(neutralize_mentions(text))
