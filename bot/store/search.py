"""Full-text search over the archive: a guild's items, best matches first, with snippets.

Ranking is FTS5's bm25 with the title weighted above the summary above the body. bm25 must
score every matching row before the first ten are known, which is what makes a plain FTS5 query
slow for very common words on a large archive (every row's positions are read). So the search
is planned:

1. count the matches up to RANK_ALL + 1 (cheap: doclists only, no positions, no join);
2. few matches (≤ RANK_ALL): rank them all with bm25 — exact, and the total is known;
3. many matches: take the newest CANDIDATES matches of the guild's feeds (FTS5 walks the index
   newest-first and stops early) and rank only those with bm25. For a word in tens of thousands
   of items, "the best of the latest thousand" is what a reader of newsletters wants; the
   page says so (`SearchPage.recent_only`). A guild whose feeds hold a small share of the
   archive gets fewer candidates (at least MIN_CANDIDATES), so the walk stays about
   SCAN_BUDGET index entries long.

Snippets are made only for the page shown. A snippet is one line of the feed's own text (CJK
spacing undone), raw and unescaped, with each matched word between SNIPPET_OPEN and
SNIPPET_CLOSE: the render makes it Discord markdown.

The query arrives as plain data (`bot.model.Query`); `to_fts5` renders it in SQLite's
FTS5 dialect, every token quoted, so no member text is ever read as FTS5 syntax.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import Phrase, Query, QueryProblem, SearchHit
from bot.store import pgsearch
from bot.store.cjk import unspace_cjk
from bot.store.db import Backend, ReadConnection, fetch_all, like_pattern, marks, scalar
from bot.store.pgsearch import snippet, to_tsquery, tsquery_phrase
from bot.store.postgres import is_postgres
from bot.store.tokens import tokens

RANK_ALL = 3000  # at most this many matches: rank every one
CANDIDATES = 1000  # otherwise: rank the newest this many matches of the guild's feeds …
MIN_CANDIDATES = 50
# … fewer for a guild holding a small share of the archive: finding N of its matches walks
# about N / share of the index, so N is chosen to walk about this many matches.
SCAN_BUDGET = 10_000
SNIPPET_TOKENS = 24
BM25_WEIGHTS = "10.0, 3.0, 1.0"  # title, summary, text
MAX_PAGE = 25

SNIPPET_OPEN, SNIPPET_CLOSE = "\x02", "\x03"  # around each matched word in a snippet
_ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    offset: int
    limit: int
    has_more: bool
    total: int | None  # exact number of matching items, when known
    recent_only: bool = False  # too many matches: only the newest `window` were ranked
    window: int = 0  # how many of the newest matches were ranked (when recent_only)
    problem: QueryProblem | None = None  # the query cannot run (nothing else is set)

    @property
    def empty(self) -> bool:
        return not self.hits


@dataclass(frozen=True, slots=True)
class MatchDialect:
    """How one backend finds and scores the items matching a query (one `?`: the query)."""

    matching: str  # FROM … WHERE: the matching index rows (counted)
    matching_items: str  # FROM … WHERE: items `i` that match, more conditions ANDed after
    score: str  # lower is better
    newest: str  # the order of the index walk newest first (FTS5 stops early on its rowid)

    def counted(self) -> str:
        """The number of matches, up to the second `?` (the index's lists only: no positions)."""
        return f"SELECT count(*) FROM (SELECT 1 FROM {self.matching} LIMIT ?) AS found"

    def newest_ranked(self, where: str, candidates: int) -> str:
        """(id, score) of the newest `candidates` items matching and meeting `where`
        (conditions on `i`, their parameters after the query), best first."""
        return (
            f"SELECT id, score FROM (SELECT i.id AS id, {self.score} AS score "
            f"FROM {self.matching_items} AND {where} "
            f"ORDER BY {self.newest} LIMIT {candidates}) AS recent ORDER BY score, id DESC"
        )


SQLITE = MatchDialect(
    "items_fts WHERE items_fts MATCH ?",
    "items_fts f JOIN items i ON i.id = f.rowid WHERE items_fts MATCH ?",
    f"bm25(items_fts, {BM25_WEIGHTS})",
    "f.rowid DESC",
)
POSTGRES = MatchDialect(
    "items WHERE search @@ CAST(? AS tsquery)",
    "items i, CAST(? AS tsquery) AS q WHERE i.search @@ q",
    pgsearch.SCORE,
    "i.id DESC",
)


def any_of(db: Backend, terms: Sequence[str]) -> tuple[MatchDialect, str]:
    """The backend's dialect and its query matching any of `terms` (words of the feed's
    text, each taken as a phrase of its tokens)."""
    phrases = [phrase for term in terms if (phrase := tuple(tokens(term)))]
    if is_postgres(db):
        return POSTGRES, " | ".join(f"({tsquery_phrase(p)})" for p in phrases)
    return SQLITE, _either(phrases)


def _either(phrases: Sequence[Phrase]) -> str:
    # Tokens contain no spaces and no double quotes (both are separators), so quoting is safe.
    return " OR ".join('"' + " ".join(phrase) + '"' for phrase in phrases)


def to_fts5(query: Query) -> str | QueryProblem:
    """A MATCH expression for FTS5, every token quoted; or why the query cannot run."""
    if query.problem is not None:
        return query.problem
    expression = " AND ".join(
        _either(group) if len(group) == 1 else f"({_either(group)})" for group in query.groups
    )
    if query.excluded:
        expression = f"({expression}) NOT ({_either(query.excluded)})"
    return expression


def _filters(
    feed_ids: Sequence[int], since: float | None, author: str | None
) -> tuple[str, list[object]]:
    """The scope and filters, in SQL both backends run (lower() on both sides: SQLite's LIKE
    ignores ASCII case, PostgreSQL's does not)."""
    sql = f"i.feed_id IN ({marks(feed_ids)})"
    params: list[object] = list(feed_ids)
    if since is not None:
        sql += " AND i.published_at >= ?"
        params.append(since)
    if author:
        sql += " AND lower(i.author) LIKE lower(?) ESCAPE '\\'"
        params.append(like_pattern(author))
    return sql, params


async def _scope_share(conn: ReadConnection, feed_ids: Sequence[int]) -> float:
    """About which share of the archive the feeds hold (cheap: counts only small scopes)."""
    if len(feed_ids) * 2 >= await scalar(conn, "SELECT count(*) FROM feeds"):
        return 1.0
    scope = await scalar(
        conn, f"SELECT count(*) FROM items WHERE feed_id IN ({marks(feed_ids)})", feed_ids
    )
    last_id = await scalar(conn, "SELECT max(id) FROM items")
    return min(1.0, scope / last_id) if last_id else 1.0


async def search_items(
    db: Backend,
    query: Query,
    *,
    feed_ids: Sequence[int],
    since: float | None = None,
    author: str | None = None,
    limit: int = 10,
    offset: int = 0,
) -> SearchPage:
    """One page of the items of `feed_ids` (the guild's feeds) matching `query`, best first.

    `since` (unix seconds) keeps items published at or after it; `author` keeps items whose
    author contains it (case-insensitive). Never raises for any query text: an unrunnable
    query gives a page with `problem` set.
    """
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    postgres = is_postgres(db)
    fts = to_tsquery(query) if postgres else to_fts5(query)
    if isinstance(fts, QueryProblem):
        return SearchPage([], offset, limit, False, 0, problem=fts)
    ranked: list[int] = []
    window = 0
    if feed_ids:
        where, params = _filters(feed_ids, since, author)
        ranked, window = await _ranked(db.reader, fts, postgres, feed_ids, where, params)
    recent_only = 0 < window <= len(ranked)
    hits = await _hits(db.reader, query, fts, ranked[offset : offset + limit], postgres)
    return SearchPage(
        hits,
        offset,
        limit,
        has_more=offset + limit < len(ranked),
        total=None if recent_only else len(ranked),
        recent_only=recent_only,
        window=len(ranked) if recent_only else 0,
    )


async def _ranked(
    conn: ReadConnection,
    fts: str,
    postgres: bool,
    feed_ids: Sequence[int],
    where: str,
    params: list[object],
) -> tuple[list[int], int]:
    """The ids matching `fts` and `where`, best first, and how many of the newest matches
    were ranked (0: every match was).

    Only "none" and "at most RANK_ALL" matter: counting stops there (PostgreSQL's GIN index
    cannot count without visiting every matching row). PostgreSQL keeps the ids it counted:
    ranking them needs no second pass over the index, nor a phrase's positions read twice."""
    query_sql = pgsearch.tsquery_sql(fts) if postgres else ""
    if postgres:
        found = await fetch_all(
            conn, int, f"SELECT id FROM items WHERE search @@ {query_sql} LIMIT {RANK_ALL + 1}"
        )
        if len(found) <= RANK_ALL:
            ties = "i.published_at DESC"
            return await pgsearch.rank(conn, query_sql, found, where, params, ties=ties), 0
    elif await scalar(conn, SQLITE.counted(), (fts, RANK_ALL + 1)) <= RANK_ALL:
        return await fetch_all(
            conn,
            int,
            f"SELECT i.id FROM {SQLITE.matching_items} AND {where} "
            f"ORDER BY {SQLITE.score}, i.published_at DESC",
            (fts, *params),
        ), 0
    share = await _scope_share(conn, feed_ids)
    candidates = max(MIN_CANDIDATES, min(CANDIDATES, int(SCAN_BUDGET * share)))
    if postgres:
        newest = await pgsearch.newest_matches(conn, query_sql, where, params, candidates, share)
        return await pgsearch.rank(conn, query_sql, newest), candidates
    return await fetch_all(
        conn,
        lambda item_id, _: int(item_id),
        SQLITE.newest_ranked(where, candidates),
        (fts, *params),
    ), candidates


# Each hit's columns after its id and two texts (the snippets, or what they are made from):
# SearchHit's fields in order, its snippet left out.
_HIT_COLUMNS = (
    "i.feed_id, i.title, i.url, fe.title, i.author, i.published_at, i.enclosure_url, "
    "i.enclosure_type, i.duration_s FROM items i JOIN feeds fe ON fe.id = i.feed_id"
)
_snippet = functools.partial(
    snippet, tokens=SNIPPET_TOKENS, open_=SNIPPET_OPEN, close=SNIPPET_CLOSE, ellipsis=_ELLIPSIS
)


async def _hits(
    conn: ReadConnection, query: Query, fts: str, item_ids: Sequence[int], postgres: bool
) -> list[SearchHit]:
    """The page's hits: FTS5's snippets on SQLite; on PostgreSQL, snippets made here from
    the stored (CJK-spaced) text."""
    if not item_ids:
        return []
    if postgres:
        sql = f"SELECT i.id, i.content_text, coalesce(i.fts_summary, i.summary), {_HIT_COLUMNS} "
        where, params = "i.id", list[object](item_ids)
    else:
        cut = f"'{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '{_ELLIPSIS}', {SNIPPET_TOKENS}"
        sql = (
            f"SELECT items_fts.rowid, snippet(items_fts, 2, {cut}), snippet(items_fts, 1, {cut}), "
            f"{_HIT_COLUMNS} JOIN items_fts ON items_fts.rowid = i.id"
        )
        where, params = "items_fts MATCH ? AND items_fts.rowid", [fts, *item_ids]
    rows = await conn.execute_fetchall(f"{sql} WHERE {where} IN ({marks(item_ids)})", params)
    by_id = {int(row[0]): row for row in rows}
    phrases = [phrase for group in query.groups for phrase in group]
    hits: list[SearchHit] = []
    for item_id in item_ids:
        if (row := by_id.get(item_id)) is None:  # deleted between the two queries
            continue
        _, text, summary, *fields = row
        text, summary = (str(raw or "") for raw in (text, summary))
        if postgres:
            text, summary = (_snippet(raw, phrases) for raw in (text, summary))
        # The body's snippet, unless only the summary (or only the title) has the words.
        if SNIPPET_OPEN not in text and (SNIPPET_OPEN in summary or not text):
            text = summary
        hits.append(SearchHit(*(item_id, *fields[:6], display_snippet(text), *fields[6:])))
    return hits


def display_snippet(raw: str) -> str:
    """FTS5 snippet text (CJK-spaced, with marker characters) → one line of the feed's text as
    it was written, the markers kept: `unspace_cjk` gives back exactly the original text of the
    fragment (its own spaces included), and only then are line breaks made spaces."""
    original = unspace_cjk(raw, SNIPPET_OPEN + SNIPPET_CLOSE)
    return _SPACES.sub(" ", original).strip()
