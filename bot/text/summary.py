"""The offline summary: the item's subtitle plus its opening sentences, within a small budget.

Measured on real Substack posts, "subtitle + lead ≤ 60 words" is far closer to what a human
writes than extractive rankers (LexRank, TextRank, LSA, Luhn) at a sixtieth of their cost. The
work is in choosing well: the feed's description is used only when it is a real subtitle (short,
not the title, not just the first words of the body), and the lead skips what is not the story:
edit/update notes, subscribe and share prompts, voice-over and podcast-app notes, headings.
English budgets are words (≤ 60) and characters (≤ 400); Chinese and Japanese have no spaces, so
their budget is characters (≤ 120). A cut ends on a word or clause boundary with "…".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import chain

MAX_WORDS = 60
MAX_CHARS = 400
MAX_CJK_CHARS = 120
ELLIPSIS = "…"

# A description longer than this is an excerpt of the body, not a subtitle.
_SUBTITLE_MAX_WORDS = 45
_SUBTITLE_MAX_CJK_CHARS = 100
# Only the opening of the body is read: the lead is there, and the cost stays flat.
_LEAD_SCAN_CHARS = 6000
# Fill the rest of the budget with a cut sentence only when at least this much is left.
_MIN_FILL_WORDS = 12
_MIN_FILL_CJK_CHARS = 30

_SPACE = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[\W_]+")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_WORD = re.compile(r"[^\W_]{3,}")

# Sentence ends: "word. Next", "word.” Next", and run-together "word.Next" (common in
# descriptions flattened from HTML). Japanese: 。！？ with optional closing brackets.
_EN_BOUNDARY = re.compile(
    r"([.!?…]+[\"'”’)\]]*)(?:\s+(?=[\"'“‘(\[]?[A-Z0-9])|(?<=[a-z][.!?])(?=[A-Z][a-z]))"
)
_CJK_BOUNDARY = re.compile(r"([。！？!?]+[」』）】”\"’]*|[.](?=\s))\s*")
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "eg", "ie", "no",
        "fig", "vol", "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "inc", "ltd", "co", "corp", "gen", "gov", "rep", "sen",
    }
)  # fmt: skip
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+$")
_TERMINAL = re.compile(r"[.!?…。！？:：\"”’)」』]$")

# A line that opens with an editorial note ("Edit Jun. 11:", "Update:", "Note:", "追記：").
_NOTE_LINE = re.compile(
    r"^\W{0,3}(?:edit(?:ed)?|updated?|updates|note|correction|programming note"
    r"|editor[’']?s note|housekeeping|p\.?\s?s\.?|追記|注記|注|更新|お知らせ|編集部注)"
    r"(?:\s+(?:on\s+)?(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?"
    r"|\d{1,4}(?:[/.-]\d{1,2}){1,2})|\s*\([^)]{1,30}\))?\s*[:：]",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    "|".join(
        (
            # voice-over and audio-version notes
            r"\bvoice[- ]?overs?\b|\baudio (?:version|narration)\b|\bnarrated by\b",
            r"音声版|ナレーション",
            # podcast-app notes
            r"\b(?:listen|watch|subscribe|find|available|hear)\b.{0,80}?"
            r"\b(?:apple podcasts|spotify|overcast|pocket casts|youtube|podcast apps?"
            r"|where ?ever you get (?:your )?podcasts)\b",
            r"\b(?:apple podcasts|spotify|podcast apps?)\b.{0,60}?\b(?:listen|subscribe)\b",
            r"(?:apple podcasts|spotify|ポッドキャスト).{0,30}?(?:聴|配信|登録)",
            # subscribe prompts
            r"^(?:please\s+)?(?:subscribe|sign up|join us|upgrade|become a)\b",
            r"\bsubscribe (?:now|today|for free|here|to (?:receive|get|support|my|our|the|this))\b",
            r"\bconsider (?:becoming|subscribing|upgrading)\b|\breader[- ]supported\b",
            r"\b(?:paid|free) subscri(?:ber|ption)s?\b|\bupgrade to (?:a )?paid\b",
            r"購読|メルマガ|チャンネル登録|ご登録|フォローしてください",
            # share prompts and sign-offs
            r"\bfeel free to share\b|\bshare this (?:post|article|newsletter|episode)\b",
            r"\bforward (?:this|it) to a friend\b|シェアして",
            r"^thanks?(?: you)?(?: so much)? for reading\b",
            r"お読みいただき(?:ありがとう|誠にありがとう)|読んでいただきありがとう",
            r"^(?:share|leave a comment|comment|subscribe now|listen now|read more)\W*$",
        )
    ),
    re.IGNORECASE,
)


def offline_summary(title: str, description: str, text: str, language: str | None) -> str:
    """A short summary: the subtitle (when real) plus the first non-boilerplate sentences.

    Never empty when any of title, description or text has words: it falls back to the title.
    """
    title = _squash(title)
    description = _squash(description)
    head = text[:_LEAD_SCAN_CHARS]
    cjk = _is_cjk(head or description or title, language)
    subtitle = description if _is_subtitle(description, title, head, cjk) else ""

    pieces = [_end_sentence(subtitle, cjk)] if subtitle else []
    summary = ""
    for piece in chain(pieces, _lead_sentences(head, cjk, subtitle)):
        candidate = _join(summary, piece, cjk)
        if _fits(candidate, cjk):
            summary = candidate
            continue
        if not summary or _room_left(summary, cjk):
            summary = _truncate(candidate, cjk)
        break
    if summary:
        return summary
    fallback = title or description or _squash(head)
    return fallback if _fits(fallback, cjk) else _truncate(fallback, cjk)


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip() if text else ""


def _normalized(text: str) -> str:
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def _is_cjk(sample: str, language: str | None) -> bool:
    """True when the text is mostly Chinese/Japanese (the language hint alone is not trusted:
    feeds label English posts "ja" and the reverse)."""
    sample = sample[:400]
    letters = sum(1 for ch in sample if not ch.isspace())
    if letters:
        return len(_CJK.findall(sample)) * 5 >= letters
    return language is not None and language.lower().startswith(("ja", "zh"))


def _is_subtitle(description: str, title: str, head: str, cjk: bool) -> bool:
    """A real subtitle is short, is not boilerplate, does not repeat the title and is not just
    the body's first words."""
    if not description:
        return False
    if cjk:
        if len(description) > _SUBTITLE_MAX_CJK_CHARS:
            return False
    elif len(description.split()) > _SUBTITLE_MAX_WORDS or len(description) > MAX_CHARS:
        return False
    if _NOTE_LINE.match(description) or _BOILERPLATE.search(description):
        return False
    norm = _normalized(description.rstrip("…").removesuffix("..."))
    if not norm or norm in _normalized(title):
        return False
    probe = norm[:60]
    opening = _normalized(head[: len(description) * 2 + 200])
    return not opening.startswith(probe)


def _end_sentence(text: str, cjk: bool) -> str:
    if _TERMINAL.search(text):
        return text
    return text + ("。" if cjk and _CJK.match(text[-1]) else ".")


def _lead_sentences(text: str, cjk: bool, subtitle: str) -> Iterator[str]:
    """Sentences of the opening, minus notes, prompts, headings and repeats of the subtitle."""
    subtitle_words = _words(subtitle, cjk) if subtitle else set()
    for raw_line in text.split("\n"):
        line = raw_line.strip()
        if not line or _NOTE_LINE.match(line):
            continue
        if not _TERMINAL.search(line) and _looks_like_heading(line, cjk):
            continue
        for sentence in _sentences(line, cjk):
            if not _BOILERPLATE.search(sentence) and not (
                subtitle_words and _repeats(sentence, subtitle_words, cjk)
            ):
                yield sentence


def _looks_like_heading(line: str, cjk: bool) -> bool:
    return len(line) <= 40 if cjk else len(line) <= 120 and len(line.split()) <= 12


def _sentences(line: str, cjk: bool) -> Iterator[str]:
    boundary = _CJK_BOUNDARY if cjk else _EN_BOUNDARY
    start = 0
    for match in boundary.finditer(line):
        end = match.end(1)
        if not cjk and _is_abbreviation(line, start, match.start(1)):
            continue
        sentence = line[start:end].strip()
        if sentence:
            yield sentence
        start = match.end()
    rest = line[start:].strip()
    if rest:
        yield rest


def _is_abbreviation(line: str, start: int, dot: int) -> bool:
    """True when the period at `dot` ends an abbreviation or initials, not a sentence."""
    if line[dot] != ".":
        return False
    word_start = line.rfind(" ", start, dot) + 1
    word = line[word_start : dot + 1].lstrip("(\"'“‘")
    if _INITIALS.match(word):
        return True
    return word[:-1].replace(".", "").lower() in _ABBREVIATIONS


def _words(text: str, cjk: bool) -> set[str]:
    if cjk:
        norm = _normalized(text)
        return {norm[i : i + 2] for i in range(len(norm) - 1)}
    return {w.casefold() for w in _WORD.findall(text)}


def _repeats(sentence: str, subtitle_words: set[str], cjk: bool) -> bool:
    """The lead often restates the subtitle; a sentence mostly made of its words is skipped."""
    words = _words(sentence, cjk)
    if not words:
        return False
    return len(words & subtitle_words) >= 0.6 * len(words)


def _join(summary: str, piece: str, cjk: bool) -> str:
    if not summary:
        return piece
    if cjk and not (summary[-1].isascii() and piece[0].isascii()):
        return summary + piece
    return summary + " " + piece


def _fits(text: str, cjk: bool) -> bool:
    if cjk:
        return len(text) <= MAX_CJK_CHARS
    return len(text) <= MAX_CHARS and len(text.split()) <= MAX_WORDS


def _room_left(summary: str, cjk: bool) -> bool:
    if cjk:
        return MAX_CJK_CHARS - len(summary) >= _MIN_FILL_CJK_CHARS
    return (
        MAX_WORDS - len(summary.split()) >= _MIN_FILL_WORDS
        and MAX_CHARS - len(summary) >= _MIN_FILL_WORDS * 6
    )


_TRAILING = " ,;:、，—–-([{\"'“‘「『（"


def _truncate(text: str, cjk: bool) -> str:
    """Cut to the budget on a word (or, in CJK text, clause) boundary and add "…"."""
    if cjk:
        return _truncate_cjk(text)
    kept: list[str] = []
    length = 0
    for word in text.split():
        extra = len(word) + (1 if kept else 0)
        if len(kept) >= MAX_WORDS or length + extra > MAX_CHARS - len(ELLIPSIS):
            break
        kept.append(word)
        length += extra
    if not kept:  # one giant "word" (a URL, a hostile run): cut it hard
        return text[: MAX_CHARS - len(ELLIPSIS)] + ELLIPSIS
    return " ".join(kept).rstrip(_TRAILING + ".") + ELLIPSIS


def _truncate_cjk(text: str) -> str:
    limit = MAX_CJK_CHARS - len(ELLIPSIS)
    cut = text[:limit]
    clause = max(cut.rfind(mark) for mark in "、，,。！？ ")
    if clause >= limit * 0.6:
        cut = cut[: clause + 1]
    elif text[limit : limit + 1].isascii() and text[limit : limit + 1].isalnum():
        # Do not split a Latin word embedded in the Japanese text.
        word_start = len(cut)
        while word_start > 0 and cut[word_start - 1].isascii() and cut[word_start - 1].isalnum():
            word_start -= 1
        if word_start > 0:
            cut = cut[:word_start]
    return cut.rstrip(_TRAILING + "。") + ELLIPSIS
