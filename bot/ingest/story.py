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
the same link key, or a shared LSH band (`bands`: a whole band of `BAND_ROWS` MinHash values
in common); only those are compared, sketch against sketch. The threshold and the bands' shape
come from bench/story.py's labelled set (bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
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
#: LSH bands: `BANDS` bands of `BAND_ROWS` MinHash values each; a candidate shares a whole
#: band. Single values made a weak index: the stock phrases of a topic ("officials said…")
#: are the minimum of some range in most of its posts. Two texts share a band with a chance
#: of 1 - (1 - J^3)^12 for Jaccard J: 0.55 at 0.4, 0.95 at 0.6, 0.99 at 0.7 (copies
#: of one story are mostly above 0.8), 0.02 at 0.12 (the median of two stories of one topic).
#: Chosen on bench/story.py's labelled set: 12 x 3 keeps recall through the index at 0.986
#: with ~16 same-topic candidates of a 1,650-post window, where 16 x 1 read ~660.
BANDS = 12
BAND_ROWS = 3
_BINS = BANDS * BAND_ROWS
_EMPTY = 1 << 32
_BAND_PACKING = struct.Struct("<B" + "IB" * BAND_ROWS)

_WORD = re.compile(r"\w+")
# Beyond the feed URL's tracking parameters: what newsletter platforms add to a post's link.
_SHARE_KEYS = frozenset(
    {"ref", "ref_src", "triedredirect", "publication_id", "post_id", "isfreemail"}
)


def story_url(url: str | None) -> str | None:
    """The item link as a story key (see the module's rules); None when it names no story."""
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
    """The `SKETCH_SIZE` smallest hashes, ascending, 4 bytes each."""
    kept = sorted(hashes)[:SKETCH_SIZE]
    return struct.pack(f"<{len(kept)}I", *kept)


def bands(hashes: set[int]) -> tuple[int, ...]:
    """The text's LSH band keys (signed 64-bit, as SQL stores them); none for texts too short
    to compare. One-permutation MinHash: the smallest hash in each of `_BINS` ranges of the
    hash space (two texts share a range's minimum with a chance equal to their Jaccard
    similarity); an empty range borrows the next range's minimum, with the distance
    ("rotation" densification, Shrivastava and Li 2014), so every bin has a value. Each band
    key hashes its number and its `BAND_ROWS` bins' values."""
    if len(hashes) < MIN_SHINGLES:
        return ()
    lowest = [_EMPTY] * _BINS
    for value in hashes:
        bin_ = (value * _BINS) >> 32
        lowest[bin_] = min(lowest[bin_], value)
    filled: list[int] = []
    for bin_ in range(_BINS):
        distance = 0
        while lowest[(bin_ + distance) % _BINS] == _EMPTY:
            distance += 1
        filled += (lowest[(bin_ + distance) % _BINS], distance)
    width = 2 * BAND_ROWS
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                _BAND_PACKING.pack(band, *filled[band * width : (band + 1) * width]),
                digest_size=8,
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(BANDS)
    )


def story_key(item: ItemText) -> StoryKey:
    """What is compared of an item: its link key, its text's sketch and its bands."""
    hashes = shingles(item.title, item.summary or item.text)
    url = story_url(item.canonical_url) or story_url(item.url)
    return StoryKey(url, sketch(hashes), bands(hashes))


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


def same_story(new: StoryKey, earlier: StoryKey) -> bool:
    if new.url is not None and new.url == earlier.url:
        return True
    return similarity(new.sketch, earlier.sketch) >= SAME_STORY_JACCARD


class StoryMatcher:
    """The story gate the store's routing calls (bot.store.routing.StoryGate)."""

    key = staticmethod(story_key)
    same = staticmethod(same_story)


STORY_MATCHER = StoryMatcher()
