"""Cheap keywords: the most frequent meaningful words, with the title's words counted extra.

English words are lower-cased (acronyms such as "AI" or "LLM" keep their capitals), stopwords
and numbers are skipped and a plural folds into its singular when both occur. Chinese and
Japanese have no spaces, so their candidates are runs of katakana or of kanji (two or more
characters), which are mostly nouns.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain

# Only the opening is counted: keywords of a long post are settled by then, and cost stays flat.
_SCAN_CHARS = 8_000
_TITLE_WEIGHT = 3

# Words of the lower-cased text (apostrophes normalised), and acronyms of the original text.
_WORD = re.compile(r"[a-z][a-z0-9'-]*")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]+(?:-[A-Z0-9]+)*s?\b")
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
    """Up to `limit` keywords, best first (ties: first occurrence, title first)."""
    if limit <= 0:
        return ()
    in_title = _counts(title)
    in_text = _counts(text[:_SCAN_CHARS])
    total: Counter[str] = Counter(dict.fromkeys(chain(in_title, in_text), 0))
    total.update(in_text)
    for key, n in in_title.items():
        total[key] += n * _TITLE_WEIGHT
    for plural in [k for k in total if len(k) > 3 and k[-1] == "s" and k[-2] != "s"]:
        if plural[:-1] in total:
            total[plural[:-1]] += total.pop(plural)
    # most_common is a stable sort: equal counts keep their first-occurrence order.
    return tuple(key for key, _ in total.most_common(limit))


def _counts(text: str) -> Counter[str]:
    """Candidate counts of one text. Counting happens in C (Counter over findall); the Python
    loops below touch only possessives, stopwords, short words and acronyms."""
    if not text:
        return Counter()
    counts = Counter(_WORD.findall(text.lower().replace("’", "'")))
    for odd in [w for w in counts if w[-1] in "-'" or w.endswith("'s")]:
        word = odd.removesuffix("'s").rstrip("-'")
        counts[word] += counts.pop(odd)
    for acronym in set(_ACRONYM.findall(text)):
        lower = acronym.lower()
        if 2 <= len(acronym) <= 7 and lower not in _STOPWORDS and lower in counts:
            counts[acronym] = counts.pop(lower)
    for word in (_STOPWORDS & counts.keys()) | {w for w in counts if len(w) < 3 and w.islower()}:
        del counts[word]
    if max(text) >= "\u3040":  # cheaper than scanning for CJK runs in every text
        counts.update(_CJK_RUN.findall(text))
    return counts
