"""Cheap keywords: the most frequent meaningful words, with the title's words counted extra.

English words are lower-cased (acronyms such as "AI" or "LLM" keep their capitals), stopwords
and numbers are skipped and a plural folds into its singular when both occur. Chinese and
Japanese have no spaces, so their candidates are runs of katakana or of kanji (two or more
characters), which are mostly nouns.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter

# Only the opening is counted: keywords of a long post are settled by then, and cost stays flat.
_SCAN_CHARS = 8_000
_TITLE_WEIGHT = 3

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'’][A-Za-z0-9]+)*")
_CJK_RUN = re.compile(
    "[\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]{2,}|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]{2,}"
)

_STOPWORD_LIST = """
    a about above after again against all also although am an and another any are aren't
    around as at be because been before being below between both but by can can't cannot
    could couldn't did didn't do does doesn't doing don't down during each either else even
    ever every few for from further get gets getting got had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's however
    i i'd i'll i'm i've if in into is isn't it it's its itself just let's like made make
    makes many may me might more most much must mustn't my myself near need new next no nor
    not now of off often on once one only or other others our ours ourselves out over own
    per quite rather really said same say says see seen shan't she she'd she'll she's
    should shouldn't since so some still such take than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've thing things
    think this those though through thus to too two under until up upon us use used using
    very via want was wasn't way we we'd we'll we're we've well were weren't what what's
    when when's where where's whether which while who who's whom whose why why's will with
    within without won't would wouldn't yet you you'd you'll you're you've your yours
    yourself yourselves year years time times lot lots going know back first last good
    great day days week today yes www http https com
"""
_STOPWORDS = frozenset(_STOPWORD_LIST.split())


def extract_keywords(title: str, text: str, limit: int = 8) -> tuple[str, ...]:
    """Up to `limit` keywords, best first (ties: first occurrence)."""
    if limit <= 0:
        return ()
    counts: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    _count(title, counts, first_seen, _TITLE_WEIGHT)
    _count(text[:_SCAN_CHARS], counts, first_seen, 1)
    _fold_plurals(counts)
    ranked = heapq.nsmallest(limit, counts, key=lambda k: (-counts[k], first_seen[k]))
    return tuple(ranked)


def _count(text: str, counts: dict[str, int], first_seen: dict[str, int], weight: int) -> None:
    if not text:
        return
    # Counter(findall) counts in C; the per-word normalisation below runs once per distinct word.
    for word, n in Counter(_LATIN_WORD.findall(text)).items():
        word = word.replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        lower = word.lower()
        if lower in _STOPWORDS:
            continue
        acronym = len(word) <= 7 and (word.isupper() or (word[-1] == "s" and word[:-1].isupper()))
        if len(word) < 3 and not acronym:
            continue
        key = word if acronym else lower
        _add(key, n * weight, counts, first_seen)
    if text.isascii():
        return
    for run, n in Counter(_CJK_RUN.findall(text)).items():
        _add(run, n * weight, counts, first_seen)


def _add(key: str, weight: int, counts: dict[str, int], first_seen: dict[str, int]) -> None:
    if key in counts:
        counts[key] += weight
    else:
        counts[key] = weight
        first_seen[key] = len(first_seen)


def _fold_plurals(counts: dict[str, int]) -> None:
    for key in list(counts):
        if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
            singular = key[:-1]
            if singular in counts:
                counts[singular] += counts.pop(key)
