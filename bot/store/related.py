"""Related items: the archive's items most like a given one, scored as /search scores (FTS5's
bm25 on SQLite, ts_rank on PostgreSQL).

The seed's own indexed text (title counted three times) is cut into terms; each term is weighed
by how often the seed uses it and how rare it is in the archive (its document count, counted in
the index up to a cap: commoner terms are dropped); the MAX_TERMS heaviest form an OR query.
Candidates are ranked by bm25 over that query, and each score is divided by the seed's own
score for the same query: 1.0 is "as close as the seed is to itself", so one threshold (chosen
by the caller) holds for short and long items alike.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from bot.store.db import Backend, Table, marks, scalar
from bot.store.search import any_of

MAX_TERMS = 12  # the seed's most distinctive terms that make the query
MAX_SEED_CHARS = 20_000  # of the seed's body read for terms
TITLE_WEIGHT = 3  # a title word counts as this many body words
# A term in more than this share of the archive, or in more than COMMON_MAX items, says too
# little about a story (and would cost the most to count and to rank).
COMMON_SHARE = 0.2
COMMON_MAX = 2000
MIN_TERM_CHARS = 3
LOOKED_UP_TERMS = 48  # the seed's most used terms whose rarity is looked up
# Only the newest this many items holding any of the terms are ranked (FTS5 walks its index
# newest first and stops), as /search does for common words: a story's relatives are recent.
CANDIDATES = 2000
# Document counts change slowly and a common word's count is the costly one to read (its whole
# list of documents), so counts are kept this long, for at most this many terms.
DOC_COUNT_TTL_S = 3600.0
DOC_COUNT_CACHE = 200_000
log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+")
# English function words: frequent enough to be useless, short enough to list.
_STOP = (
    "the and for with that this from are was were has have had not but its it's their they "
    "them you your our ours his her she him who what when where which while will would can "
    "could should about into over after before than then there these those been being also "
    "just more most some such only other any all each very new one two out via per how why "
    "yet may might must say says said week today"
)
STOP_WORDS = frozenset(_STOP.split())


@dataclass(frozen=True, slots=True)
class RelatedScore:
    item_id: int
    score: float  # bm25 relative to the seed's own (1.0: as close as the seed to itself)


def fold(text: str) -> str:
    """Lower-case without diacritics, as the index's unicode61 tokenizer folds words."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def seed_terms(title: str, body: str) -> Counter[str]:
    """How often the seed uses each candidate term (title words weighed up)."""
    counts: Counter[str] = Counter()
    for weight, text in ((TITLE_WEIGHT, title), (1, body[:MAX_SEED_CHARS])):
        for word in _WORD.findall(fold(text)):
            if len(word) >= MIN_TERM_CHARS and not word.isdigit() and word not in STOP_WORDS:
                counts[word] += weight
    return counts


class RelatedStore(Table):
    def __init__(self, db: Backend) -> None:
        super().__init__(db)
        self._doc_counts: dict[str, tuple[int, float]] = {}  # term -> (items holding it, when)

    async def _docs(self, terms: Sequence[str], cap: int) -> dict[str, int]:
        """How many items hold each term (0: none), counted up to `cap + 1` (a term held by
        more is too common to matter, and counting it all would read its whole list of items),
        from the cache or the index: one query, each count stopping at the cap."""
        now = time.monotonic()
        counts = {
            t: c[0]
            for t in terms
            if (c := self._doc_counts.get(t)) is not None and now - c[1] < DOC_COUNT_TTL_S
        }
        missing = [t for t in terms if t not in counts]
        if missing:
            if len(self._doc_counts) + len(missing) > DOC_COUNT_CACHE:
                self._doc_counts.clear()
            queries = [any_of(self._db, [term]) for term in missing]
            rows = await self._db.reader.execute_fetchall(
                " UNION ALL ".join(
                    f"SELECT {n}, ({dialect.counted()})" for n, (dialect, _) in enumerate(queries)
                ),
                tuple(x for _, query in queries for x in (query, cap + 1)),
            )
            for n, doc in rows:
                term = missing[int(n)]
                counts[term] = int(doc)
                self._doc_counts[term] = (counts[term], now)
        return counts

    async def query_terms(self, title: str, body: str) -> list[str]:
        """The MAX_TERMS most distinctive terms of a seed (none when no other item holds any).

        Terms only the seed holds stay in: they match nothing else, but they weigh in the
        seed's own score, so an item sharing two words of a long story is not "close"."""
        counts = seed_terms(title, body)
        if not counts:
            return []
        archive = int(await self._scalar("SELECT coalesce(max(id), 0) FROM items")) or 1
        # A story's own words recur (names, things): the most used are the ones worth a count.
        used = sorted(counts, key=lambda t: (-counts[t], t))[:LOOKED_UP_TERMS]
        common = max(20, min(COMMON_MAX, int(archive * COMMON_SHARE)))
        docs = await self._docs(used, common)
        weights = {
            term: (1 + math.log(counts[term])) * math.log(1 + archive / doc)
            for term in used
            if 1 <= (doc := docs.get(term, 0)) <= common
        }
        chosen = sorted(weights, key=lambda t: (-weights[t], t))[:MAX_TERMS]
        # Only the seed holds them all: nothing can be related.
        return chosen if any(docs[t] >= 2 for t in chosen) else []

    async def related(
        self,
        item_id: int,
        feed_ids: Sequence[int],
        *,
        limit: int,
        before: float | None = None,
        min_score: float = 0.0,
    ) -> list[RelatedScore]:
        """Up to `limit` items of `feed_ids` most like item `item_id` (never itself nor an
        item with its link), best first, scoring at least `min_score`; `before`: only items
        published before it. None when the index cannot answer: a post goes out without its
        Related line rather than not at all."""
        if not feed_ids or limit <= 0:
            return []
        try:
            scored = await self._scored(item_id, feed_ids, limit, before)
        except (sqlite3.OperationalError, asyncpg.PostgresError) as exc:
            log.warning("related items of item %d: %s", item_id, exc)
            return []
        return [s for s in scored if s.score >= min_score]

    async def _scored(
        self, item_id: int, feed_ids: Sequence[int], limit: int, before: float | None
    ) -> list[RelatedScore]:
        seed = await self._one(  # the seed's indexed title, its summary and body, its link
            lambda title, body, url: (str(title or ""), str(body or ""), url),
            "SELECT coalesce(i.fts_title, i.title), "
            "coalesce(i.fts_summary, i.summary) || ' ' || i.content_text, i.url "
            "FROM items i WHERE i.id = ?",
            (item_id,),
        )
        if seed is None:
            return []
        title, body, url = seed
        terms = await self.query_terms(title, body)
        if not terms:
            return []
        dialect, fts = any_of(self._db, terms)
        conn = self._db.reader
        self_score = await scalar(
            conn,
            f"SELECT {dialect.score} FROM {dialect.matching_items} AND i.id = ?",
            (fts, item_id),
        )
        if not self_score:
            return []
        where = f"i.feed_id IN ({marks(feed_ids)}) AND i.id != ?"
        params: list[object] = [*feed_ids, item_id]
        if url is not None:  # the same link elsewhere is the same item, not a related one
            where += " AND (i.url IS NULL OR i.url != ?)"
            params.append(url)
        if before is not None:
            where += " AND i.published_at < ?"
            params.append(before)
        rows = await conn.execute_fetchall(
            f"{dialect.newest_ranked(where, CANDIDATES)} LIMIT ?", (fts, *params, limit)
        )
        # Scores are negative ("smaller is better"): the ratio is 1.0 for the seed itself.
        return [RelatedScore(int(r[0]), float(r[1]) / float(self_score)) for r in rows]
