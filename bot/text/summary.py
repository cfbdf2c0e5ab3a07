"""The offline summary: the item's subtitle plus whole sentences of its opening, within a budget.

Measured on real Substack posts, "subtitle + lead ≤ 60 words" is far closer to what a human
writes than extractive rankers (LexRank, TextRank, LSA, Luhn) at a sixtieth of their cost. The
work is in choosing well: the description counts only when it is a real subtitle (short, not the
title, not the body's first words), and the lead skips edit notes, subscribe and share prompts,
voice-over and podcast-app notes, headings, and an opening paragraph of anecdotal scene-setting
when a later one opens on the argument. Budgets: about 60 words and ≤ 400 characters in English;
≤ 120 characters in Chinese and Japanese (no spaces). A summary is whole sentences, taken in
order while they fit; only when not one fits is the first cut on a word or clause with "…".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator
from itertools import chain, islice

MAX_WORDS = 60
MAX_CHARS = 400
# "About 60 words": a whole sentence may take the summary this far (never past MAX_CHARS),
# rather than leave a 20-word subtitle alone before a 45-word opening sentence.
WHOLE_SENTENCE_MAX_WORDS = 66
MAX_CJK_CHARS = 120
ELLIPSIS = "…"

# A description longer than this is an excerpt of the body, not a subtitle.
_SUBTITLE_MAX_WORDS = 45
_SUBTITLE_MAX_CJK_CHARS = 100
# Only the opening of the body is read: the lead is there, and the cost stays flat.
_LEAD_SCAN_CHARS = 6000
# Scene-setting is judged on the lead's first paragraphs (after notes and headings) …
_SCENE_PARAGRAPHS = 3
# … and a summary starts within its first sentences, or the first one is cut as a last resort.
_START_SENTENCES = 12

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
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "eg", "ie", "no",
        "fig", "vol", "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "inc", "ltd", "co", "corp", "gen", "gov", "rep", "sen",
    }
)  # fmt: skip
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+$")
_TERMINAL = re.compile(r"[.!?…。！？:：\"”’)」』]$")
# A whole sentence ends on . ? ! (or 。！？), closing quotes and brackets allowed after it.
_EN_WHOLE = re.compile(r"[.!?][\"'”’)\]]*$")
_CJK_WHOLE = re.compile(r"[。！？!?.][」』）】”\"’]*$")

# Anecdotal scene-setting: a sentence that opens a story rather than the argument ("Recently,
# I was talking with …", "Staring out the window …, I'm gifted with views …", "I remember …").
_SCENE_OPENING = re.compile(
    r"^[\"“‘(]?(?:"
    r"(?:recently|yesterday|last (?:week|month|year|night|spring|summer|fall|autumn|winter)"
    r"|this (?:morning|afternoon|evening|past \w+)|earlier (?:this \w+|today)|the other day"
    r"|a (?:few|couple(?: of)?) (?:days|weeks|months|years) ago|years ago|back in \w+)\b"
    r"|(?:when|as|while|after|before) (?:i|we)\b"
    r"|i (?:was|had|sat|stood|walked|met|remember|recall|spent|woke|found myself|got|arrived"
    r"|landed|flew|visited|once)\b"
    r"|\w+ing\b[^.!?]*?\b(?:i|i['’]m|i['’]ve|me|my|we)\b"
    r")",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    {
        "the", "and", "for", "with", "that", "this", "from", "are", "was", "were", "has", "have",
        "had", "not", "but", "its", "our", "your", "their", "his", "her", "they", "them", "you",
        "what", "why", "how", "who", "when", "where", "which", "will", "would", "can", "could",
        "should", "about", "into", "over", "under", "than", "then", "there", "here", "just",
        "more", "most", "some", "any", "all", "one", "two", "new",
    }
)  # fmt: skip

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


def offline_summary(
    title: str,
    description: str,
    text: str,
    language: str | None,
    captions: Collection[str] = (),
) -> str:
    """A short summary: the subtitle (when real) plus the whole sentences of the opening that fit.
    `captions`, lines of `text` that caption a figure, are never taken. Never empty when any of
    title, description or text has words: it falls back to the title."""
    title = _squash(title)
    description = _squash(description)
    head = text[:_LEAD_SCAN_CHARS]
    cjk = _is_cjk(head or description or title, language)
    subtitle = description if _is_subtitle(description, title, head, cjk) else ""

    summary = _end_sentence(subtitle, cjk) if subtitle else ""
    paragraphs = _lead_paragraphs(head, cjk, subtitle, captions)
    if not cjk:
        paragraphs = _past_scene_setting(paragraphs, _content_words(f"{title} {subtitle}"))
    whole = _CJK_WHOLE if cjk else _EN_WHOLE
    first: str | None = None  # the opening sentence, for the last resort
    for number, sentence in enumerate(_sentences_of(paragraphs)):
        first = first or sentence
        candidate = _join(summary, sentence, cjk)
        if whole.search(sentence) and _fits(candidate, cjk, WHOLE_SENTENCE_MAX_WORDS):
            summary = candidate
        elif summary or number >= _START_SENTENCES:
            # Later sentences would read out of order (or far from the opening): stop here.
            break
    if summary:
        return summary
    if first is not None:
        return _truncate(first, cjk)
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
    return not _normalized(head[: len(description) * 2 + 200]).startswith(norm[:60])


def _end_sentence(text: str, cjk: bool) -> str:
    if _TERMINAL.search(text):
        return text
    return text + ("。" if cjk and _CJK.match(text[-1]) else ".")


# A paragraph of the lead: its first sentence (read at once), and the rest (read as needed).
_Paragraph = tuple[str, Iterator[str]]


def _lead_paragraphs(
    text: str, cjk: bool, subtitle: str, captions: Collection[str]
) -> Iterator[_Paragraph]:
    """The opening's paragraphs, minus notes, figure captions, prompts, headings and sentences
    that repeat the subtitle (a paragraph left with no sentence is left out). Lazy: a summary
    reads a few."""
    subtitle_words = _words(subtitle, cjk) if subtitle else set()
    for raw_line in text.split("\n"):
        line = raw_line.strip()
        if not line or _NOTE_LINE.match(line) or line in captions:
            continue
        if not _TERMINAL.search(line) and _looks_like_heading(line, cjk):
            continue
        sentences = (
            sentence
            for sentence in _sentences(line, cjk)
            if not _BOILERPLATE.search(sentence)
            and not (subtitle_words and _repeats(sentence, subtitle_words, cjk))
        )
        first = next(sentences, None)
        if first is not None:
            yield first, sentences


def _past_scene_setting(paragraphs: Iterator[_Paragraph], topic: set[str]) -> Iterator[_Paragraph]:
    """Skip an opening paragraph of anecdotal scene-setting when one of the next paragraphs
    opens on the argument instead. Scene-setting: its first sentence starts a story (a time,
    "When I …", "I was …", an -ing opener with "I"/"my") and shares no content word with the
    title and subtitle ("Recently, I was talking with X and it set in on me that there will be
    a consortium" under the title "… consortium" states the argument and is kept)."""
    opening = list(islice(paragraphs, _SCENE_PARAGRAPHS))
    start = 0
    if opening and _is_scene(opening[0][0], topic):
        later = (i for i in range(1, len(opening)) if not _is_scene(opening[i][0], topic))
        start = next(later, 0)
    return chain(opening[start:], paragraphs)


def _sentences_of(paragraphs: Iterator[_Paragraph]) -> Iterator[str]:
    return chain.from_iterable(chain((first,), rest) for first, rest in paragraphs)


def _is_scene(sentence: str, topic: set[str]) -> bool:
    return bool(_SCENE_OPENING.match(sentence)) and not (_content_words(sentence) & topic)


def _content_words(text: str) -> set[str]:
    """Words that carry the topic: casefolded, common words out, a plural "s" dropped."""
    words = (w.casefold() for w in _WORD.findall(text))
    return {w.removesuffix("s") for w in words if w not in _STOPWORDS}


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
    return bool(_INITIALS.match(word)) or word[:-1].replace(".", "").lower() in _ABBREVIATIONS


def _words(text: str, cjk: bool) -> set[str]:
    if cjk:
        norm = _normalized(text)
        return {norm[i : i + 2] for i in range(len(norm) - 1)}
    return {w.casefold() for w in _WORD.findall(text)}


def _repeats(sentence: str, subtitle_words: set[str], cjk: bool) -> bool:
    """The lead often restates the subtitle; a sentence mostly made of its words is skipped."""
    words = _words(sentence, cjk)
    return bool(words) and len(words & subtitle_words) >= 0.6 * len(words)


def _join(summary: str, piece: str, cjk: bool) -> str:
    if not summary:
        return piece
    if cjk and not (summary[-1].isascii() and piece[0].isascii()):
        return summary + piece
    return summary + " " + piece


def _fits(text: str, cjk: bool, max_words: int = MAX_WORDS) -> bool:
    if cjk:
        return len(text) <= MAX_CJK_CHARS
    return len(text) <= MAX_CHARS and len(text.split()) <= max_words


_TRAILING = " ,;:、，—–-([{\"'“‘「『（"
_LATIN_WORD_START = re.compile("[A-Za-z0-9]")
_LATIN_WORD_END = re.compile(r"[A-Za-z0-9]+\Z")


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
    elif _LATIN_WORD_START.match(text, limit) and (word := _LATIN_WORD_END.search(cut)):
        # Do not split a Latin word embedded in the Japanese text.
        cut = cut[: word.start()] or cut
    return cut.rstrip(_TRAILING + "。") + ELLIPSIS
