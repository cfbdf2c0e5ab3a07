""" "The same story": whether two archived items tell one story (syndicated copies, a re-published
post, the same article behind another tracking link), decided from the items themselves.

Two signals, either one enough:

- the same canonical link (the feed's `rel=canonical` for the item where it gives one, else
  the item's link): scheme, `www.`, the fragment, tracking parameters (utm_* and kin)
  and a trailing slash do not count; a site's front page (no path, no query) names no story;
- near-duplicate text: word 3-gram shingles of the title and the opening (`OPENING_WORDS`
  words of the summary, else the body), hashed with CRC-32 and kept as a bottom-k sketch of
  `SKETCH_SIZE` hashes; the Jaccard similarity the two sketches estimate (exact when both texts
  are short) must reach `SAME_STORY_JACCARD`. Texts of fewer than `MIN_SHINGLES` shingles
  (about twenty words) match only by link: in "Alpha letter 3: issue 3 of the alpha letter"
  and the same of the beta letter, one changed name is not enough to tell two stories apart.

Candidates (a channel's posts of the last 72 hours, bot.store.routing) are found by index:
the same link key, or a shared mark (`marks`: one-permutation MinHash, 16 bins); only those
are compared, sketch against sketch. The threshold comes from
bench/story.py's labelled set (bench/RESULTS.md).
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
import zlib
from bisect import bisect_right
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from bot.ingest.urls import without_tracking
from bot.model import ItemText, StoryKey

SKETCH_SIZE = 64
OPENING_WORDS = 60
MIN_SHINGLES = 20
#: Estimated Jaccard similarity of the shingle sets from which two texts are one story
#: (bench/story.py: syndicated and lightly edited copies score >= 0.5, different stories
#: on one topic <= 0.2).
SAME_STORY_JACCARD = 0.4
MARK_BINS = 16
#: A candidate shares at least this share of the new item's marks (and at least two): texts
#: of one story (Jaccard >= 0.4) do with a chance over 0.99, most texts of other stories on
#: the same topic do not (bench/story.py measures both).
MARKS_SHARED = 0.25
_MARK_SHIFT = 32 - MARK_BINS.bit_length() + 1

_WORD = re.compile(r"\w+")
# Beyond the feed URL's tracking parameters: what newsletter platforms add to a post's link.
_SHARE_KEYS = frozenset(
    {"ref", "ref_src", "triedredirect", "publication_id", "post_id", "isfreemail"}
)


def story_url(url: str | None) -> str | None:
    """The item link as a story key (host without `www.`, path without trailing slash, query
    without tracking parameters, no scheme or fragment); None when it names no story."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = host.removeprefix("www.")
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    kept = sorted(
        pair
        for pair in without_tracking(parts.query).split("&")
        if pair and unquote(pair.partition("=")[0]).lower() not in _SHARE_KEYS
    )
    if not path and not kept:
        return None  # the front page: every item of a careless feed links there
    return host + path + ("?" + "&".join(kept) if kept else "")


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(folded)


def shingles(title: str, opening: str) -> set[int]:
    """CRC-32 of each word 3-gram of the title followed by the first words of the opening."""
    words = _words(title) + _words(opening)[:OPENING_WORDS]
    grams = {" ".join(words[i : i + 3]) for i in range(max(0, len(words) - 2))}
    return {zlib.crc32(gram.encode()) for gram in grams}


def sketch(hashes: set[int]) -> bytes:
    """The `SKETCH_SIZE` smallest hashes, ascending, packed (4 bytes each)."""
    kept = sorted(hashes)[:SKETCH_SIZE]
    return struct.pack(f"<{len(kept)}I", *kept)


def marks(hashes: set[int]) -> tuple[int, ...]:
    """The smallest hash in each of `MARK_BINS` ranges of the hash space (one-permutation
    MinHash): two texts share a range's minimum with a chance equal to their Jaccard
    similarity, so texts of one story (>= 0.4) share at least one of 16 with a chance over
    0.9997, and the store finds candidates by an index lookup instead of reading a channel's
    every recent post. None for texts too short to compare."""
    if len(hashes) < MIN_SHINGLES:
        return ()
    lowest: dict[int, int] = {}
    for value in hashes:
        bin_ = value >> _MARK_SHIFT
        if value < lowest.get(bin_, 1 << 32):
            lowest[bin_] = value
    return tuple(sorted(lowest.values()))


def story_key(item: ItemText) -> StoryKey:
    """What is compared of an item: its link key (of the canonical link the feed named, else
    of its link), the sketch of its title and opening and the marks candidates are found by."""
    hashes = shingles(item.title, item.summary or item.text)
    url = story_url(item.canonical_url) or story_url(item.url)
    return StoryKey(url, sketch(hashes), marks(hashes))


@lru_cache(maxsize=4096)
def _known(packed: bytes) -> tuple[tuple[int, ...], frozenset[int], int]:
    """A sketch's hashes (ascending, and as a set), and the value up to which they are the
    text's every hash (a channel's recent posts are compared again and again: cached)."""
    values = struct.unpack(f"<{len(packed) // 4}I", packed)
    cutoff = values[-1] if len(values) == SKETCH_SIZE else 1 << 32
    return values, frozenset(values), cutoff


def similarity(a: bytes, b: bytes) -> float:
    """The Jaccard similarity of two texts' shingle sets, estimated from their bottom-k
    sketches: below the smaller of the two sketches' cut-offs both sets are known in full, so
    the share of the union there that both hold estimates the whole (exact for short texts)."""
    left, left_set, left_cut = _known(a)
    right, right_set, right_cut = _known(b)
    if len(left) < MIN_SHINGLES or len(right) < MIN_SHINGLES:
        return 0.0
    limit = min(left_cut, right_cut)
    both = sum(1 for h in left_set & right_set if h <= limit)
    either = bisect_right(left, limit) + bisect_right(right, limit) - both
    return both / either if either else 0.0


def marks_needed(key: StoryKey) -> int:
    """How many of `key`'s marks a candidate must share."""
    return max(2, math.ceil(MARKS_SHARED * len(key.marks)))


def same_story(new: StoryKey, earlier: StoryKey) -> bool:
    """Whether `new` tells the story `earlier` told: the same link key, or near-duplicate
    text."""
    if new.url is not None and new.url == earlier.url:
        return True
    return similarity(new.sketch, earlier.sketch) >= SAME_STORY_JACCARD


class StoryMatcher:
    """The story gate the store's routing calls (bot.store.routing.StoryGate)."""

    def marks_needed(self, key: StoryKey) -> int:
        return marks_needed(key)

    def key(self, item: ItemText) -> StoryKey:
        return story_key(item)

    def same(self, new: StoryKey, earlier: StoryKey) -> bool:
        return same_story(new, earlier)


STORY_MATCHER = StoryMatcher()
