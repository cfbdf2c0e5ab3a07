"""The search index on PostgreSQL: our tokens in a tsvector, our queries as a tsquery.

SQLite's FTS5 tokenizes with unicode61 (remove_diacritics 2) over CJK-spaced text; the
store's tokenizer (bot.store.tokens) cuts text exactly as that index does. On PostgreSQL the
index is built from those very tokens (items.search: lexemes given verbatim, so no PostgreSQL
parser or dictionary touches them), so folding, two-letter words and Japanese inside runs of
kana and kanji behave identically on both backends. Title, summary and body are weights A, B
and C; each starts at least two positions after the previous one ends, so a phrase never
spans two of them (as in FTS5, where they are columns). A query's phrases become `<->`
chains, groups `|`, exclusions `& !(…)`: every lexeme quoted, so member text is never read as
tsquery syntax. A search's tsquery is written into its SQL as a literal (`tsquery_sql`), so
PostgreSQL plans each search for its own words: with a parameter, a prepared statement falls
back after five runs to a generic plan that guesses every word equally common, and walks the
primary key reading each row's tsvector for a word in half the archive (or visits every match
of a common one). The newest matches of a common query are found window by window of ids
(`newest_matches`). Snippets are made here too, the way FTS5's snippet() makes them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from bot.model import Phrase, Query, QueryProblem
from bot.store.db import Connection, ReadConnection, fetch_all, marks, scalar
from bot.store.postgres import is_postgres
from bot.store.tokens import fold

# PostgreSQL's limits: a lexeme of at most 2,047 bytes, positions 1..16,383 (later ones are
# clamped to the last). Lexemes are cut, on both sides alike, well under the limit.
_MAX_LEXEME_BYTES = 2000
_FIELD_GAP = 2
# ts_rank's weights for D, C, B, A: body 1, summary 3, title 10 (FTS5's bm25 weights), scaled.
RANK_WEIGHTS = "{0.0, 0.1, 0.3, 1.0}"


def _lexeme(token: str) -> str:
    raw = token.encode("utf-8")
    if len(raw) > _MAX_LEXEME_BYTES:
        token = raw[:_MAX_LEXEME_BYTES].decode("utf-8", "ignore")
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def document(title: str, summary: str, text: str) -> str:
    """The tsvector (as text) of an item: its title, summary and body tokens, with positions
    and weights A, B, C."""
    positions: dict[str, list[str]] = {}
    position = 0
    for weight, field in (("A", title), ("B", summary), ("C", text)):
        position += _FIELD_GAP
        for token in fold(field).split():
            position += 1
            positions.setdefault(token, []).append(f"{min(position, 16383)}{weight}")
    return " ".join(
        f"{_lexeme(token)}:{','.join(found[:256])}" for token, found in positions.items()
    )


async def index_item(tx: Connection, item_id: int, title: str, summary: str, text: str) -> None:
    """Inside a write transaction: (re)index an item on PostgreSQL. On SQLite, triggers on
    items keep FTS5 in step, so this does nothing."""
    if is_postgres(tx):
        await tx.execute(
            "UPDATE items SET search = CAST(? AS tsvector) WHERE id = ?",
            (document(title, summary, text), item_id),
        )


def tsquery_phrase(phrase: Phrase) -> str:
    """A phrase as tsquery text: its lexemes, each quoted, in a `<->` chain."""
    return " <-> ".join(_lexeme(token) for token in phrase)


def _either(phrases: Sequence[Phrase]) -> str:
    return "(" + " | ".join(f"({tsquery_phrase(p)})" for p in phrases) + ")"


def to_tsquery(query: Query) -> str | QueryProblem:
    """The tsquery (as text) of a query; or why it cannot run."""
    if query.problem is not None:
        return query.problem
    expression = " & ".join(_either(group) for group in query.groups)
    if query.excluded:
        expression = f"({expression}) & !{_either(query.excluded)}"
    return expression


def tsquery_sql(tsquery: str) -> str:
    """A tsquery (as `to_tsquery` writes it) as a SQL expression: a literal, quotes doubled.
    Its lexemes hold no ASCII punctuation (the tokenizer separates there), and the server
    reads standard-conforming strings (its default since 9.1): nothing in it is SQL."""
    return "CAST('" + tsquery.replace("'", "''") + "' AS tsquery)"


# ts_rank with the field weights, normalized by (1 + log of) the document's length, as bm25 is:
# close to FTS5's order, not identical to it. `q` is the query; lower is better.
SCORE = f"-ts_rank('{RANK_WEIGHTS}', i.search, q, 1)"
_GROWTH = 8  # a window at most this many times the ids already walked
_FIRST = 2  # the first window: this many times the ids `wanted` matches could be


async def newest_matches(
    conn: ReadConnection,
    query_sql: str,
    where: str,
    params: Sequence[object],
    wanted: int,
    share: float,
) -> list[int]:
    """The ids of the newest `wanted` items matching `query_sql` (`tsquery_sql`) and `where`
    (conditions on `i`, with `params`), newest first: windows of ids from the newest back,
    each sized from the matches the previous ones held. `share` is about which share of the
    archive `where` keeps: the first window, twice what `wanted` items of that share span,
    finds a common word's matches at once (each window reads the word's whole posting list).

    PostgreSQL answers a window by intersecting the GIN index with the primary key
    (BitmapAnd): only the window's matches are visited, no tsvector read unless a phrase
    needs its positions. The query is a sub-select, hidden from the planner, so that this is
    always the plan: it would guess a phrase of common kana (ニュース: four characters in
    every Japanese item) from each lexeme's frequency as a handful of rows, and visit every
    one of its matches in the archive instead."""
    top = await scalar(conn, "SELECT max(id) FROM items")
    found: list[int] = []
    high = int(top or 0)
    span = int(_FIRST * wanted / max(share, 1e-6))
    while high > 0 and len(found) < wanted:
        low = max(0, high - span)
        found += await fetch_all(
            conn,
            int,
            f"SELECT i.id FROM items i WHERE i.search @@ (SELECT {query_sql}) "
            f"AND i.id > {low} AND i.id <= {high} AND {where} "
            f"ORDER BY i.id DESC LIMIT {wanted - len(found)}",
            params,
        )
        walked, high = int(top) - low, low
        missing = wanted - len(found)
        guess = missing * walked // len(found) + 1 if found else walked * _GROWTH
        span = min(guess + guess // 4, walked * _GROWTH)
    return found


async def rank(
    conn: ReadConnection,
    query_sql: str,
    item_ids: Sequence[int],
    where: str = "TRUE",
    params: Sequence[object] = (),
    *,
    ties: str = "i.id DESC",
) -> list[int]:
    """Those of `item_ids` (items matching `query_sql`) that meet `where` (conditions on `i`,
    with `params`), best first, `ties` ordering equals."""
    if not item_ids:
        return []
    return await fetch_all(
        conn,
        int,
        f"SELECT i.id FROM items i, {query_sql} AS q WHERE i.id IN ({marks(item_ids)}) "
        f"AND {where} ORDER BY {SCORE}, {ties}",
        (*item_ids, *params),
    )


# --- snippets ---------------------------------------------------------------------------


_char_fold = functools.lru_cache(maxsize=65536)(fold)


# A run of ASCII letters and digits and non-ASCII characters: everything else in ASCII
# separates. A pure ASCII run is one token (lower-cased); others are read character by character.
_RUN = re.compile("[0-9A-Za-z\x80-\U0010ffff]+")


def _spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) of each token of `text`, as the index cuts it."""
    found: list[tuple[int, int, str]] = []
    for run in _RUN.finditer(text):
        if run.group().isascii():
            found.append((run.start(), run.end(), run.group().lower()))
        else:
            found += _wide_spans(run.group(), run.start())
    return found


def _wide_spans(text: str, offset: int) -> list[tuple[int, int, str]]:
    """`_spans` of a run holding non-ASCII characters, each classified as the index does."""
    found: list[tuple[int, int, str]] = []
    start = -1
    folded: list[str] = []
    for index, char in enumerate(text, offset):
        mapped = _char_fold(char)
        separator = mapped != "" and mapped.strip() == ""
        alone = mapped.strip() != mapped and not separator  # a CJK character: its own token
        if (separator or alone) and start >= 0:
            found.append((start, index, "".join(folded)))
            start, folded = -1, []
        if separator:
            continue
        if alone:
            found.append((index, index + 1, mapped.strip()))
            continue
        if start < 0:
            start = index
        folded.append(mapped)
    if start >= 0:
        found.append((start, offset + len(text), "".join(folded)))
    return [span for span in found if span[2]]


def snippet(
    text: str, phrases: Iterable[Phrase], *, tokens: int, open_: str, close: str, ellipsis: str
) -> str:
    """About `tokens` tokens of `text` around its best cluster of matches, each matched phrase
    between `open_` and `close`, `ellipsis` where text was cut off (FTS5's snippet())."""
    spans = _spans(text)
    if not spans:
        return ""
    words = [span[2] for span in spans]
    hits: list[tuple[int, int, int]] = []  # (first token, last token, phrase number)
    for number, phrase in enumerate(dict.fromkeys(phrases)):
        size = len(phrase)
        for index in range(len(words) - size + 1):
            if tuple(words[index : index + size]) == phrase:
                hits.append((index, index + size - 1, number))
    hits.sort()
    start = 0
    if hits:
        best = (-1, -1)
        for first, _, _ in hits:
            inside = [h for h in hits if first <= h[0] and h[1] < first + tokens]
            score = (len({h[2] for h in inside}), len(inside))
            if score > best:
                best, start = score, first
        inside = [h for h in hits if start <= h[0] and h[1] < start + tokens]
        used = inside[-1][1] - start + 1
        start = max(0, min(start - (tokens - used) // 2, len(spans) - tokens))
    end = min(len(spans), start + tokens)
    ranges = _merged([(a, b) for a, b, _ in hits if start <= a and b < end])
    out: list[str] = [ellipsis] if start > 0 else []
    cursor = spans[start][0] if start > 0 else 0
    for first, last in ranges:
        out.append(text[cursor : spans[first][0]])
        out.append(open_ + text[spans[first][0] : spans[last][1]] + close)
        cursor = spans[last][1]
    stop = spans[end - 1][1] if end < len(spans) else len(text)
    out.append(text[cursor:stop])
    if end < len(spans):
        out.append(ellipsis)
    return "".join(out)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
