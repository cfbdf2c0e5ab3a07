""" "The same story": whether two archived items tell one story (syndicated copies, a re-published
post, the same article behind another tracking link), decided from the items themselves.

Two signals, either one enough:

- the same canonical link: scheme, `www.`, the fragment, tracking parameters (utm_* and kin)
  and a trailing slash do not count; a site's front page (no path, no query) names no story;
- near-duplicate text: word 3-gram shingles of the title and the opening (`OPENING_WORDS`
  words of the summary, else the body), hashed with CRC-32 and kept as a bottom-k sketch of
  `SKETCH_SIZE` hashes; the Jaccard similarity the two sketches estimate (exact when both texts
  are short) must reach `SAME_STORY_JACCARD`. Texts of fewer than `MIN_SHINGLES` shingles
  ("Weekly links") are too short to say anything and match only by link.

Candidates are few (a channel's posts of the last 72 hours, bot.store.routing), so no LSH
index is needed: each candidate's stored sketch is compared directly. The threshold comes from
bench/story.py's labelled set (bench/RESULTS.md).
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib
from urllib.parse import unquote, urlsplit

from bot.ingest.urls import without_tracking
from bot.model import ItemText, StoryKey

SKETCH_SIZE = 64
OPENING_WORDS = 60
MIN_SHINGLES = 8
#: Estimated Jaccard similarity of the shingle sets from which two texts are one story
#: (bench/story.py: syndicated and lightly edited copies score >= 0.5, different stories
#: on one topic <= 0.2).
SAME_STORY_JACCARD = 0.4

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


def story_key(item: ItemText) -> StoryKey:
    """What is compared of an item: its link key and the sketch of its title and opening."""
    opening = item.summary or item.text
    return StoryKey(story_url(item.url), sketch(shingles(item.title, opening)))


def _unpack(packed: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(packed) // 4}I", packed)


def similarity(a: bytes, b: bytes) -> float:
    """The Jaccard similarity of two texts' shingle sets, estimated from their bottom-k
    sketches: below the smaller of the two sketches' cut-offs both sets are known in full, so
    the share of the union there that both hold estimates the whole (exact for short texts)."""
    left, right = _unpack(a), _unpack(b)
    if len(left) < MIN_SHINGLES or len(right) < MIN_SHINGLES:
        return 0.0
    limit = min(
        left[-1] if len(left) == SKETCH_SIZE else 1 << 32,
        right[-1] if len(right) == SKETCH_SIZE else 1 << 32,
    )
    left_set = {h for h in left if h <= limit}
    right_set = {h for h in right if h <= limit}
    union = left_set | right_set
    return len(left_set & right_set) / len(union) if union else 0.0


def same_story(new: StoryKey, earlier: StoryKey) -> bool:
    """Whether `new` tells the story `earlier` told: the same link key, or near-duplicate
    text."""
    if new.url is not None and new.url == earlier.url:
        return True
    return similarity(new.sketch, earlier.sketch) >= SAME_STORY_JACCARD


class StoryMatcher:
    """The story gate the store's routing calls (bot.store.routing.StoryGate)."""

    def key(self, item: ItemText) -> StoryKey:
        return story_key(item)

    def same(self, new: StoryKey, earlier: StoryKey) -> bool:
        return same_story(new, earlier)


STORY_MATCHER = StoryMatcher()
