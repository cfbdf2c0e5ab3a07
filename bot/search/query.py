"""A member's search words → a small query tree → a safe FTS5 MATCH string.

The syntax people know and nothing else:

- words: every one must match (anywhere in the title, summary or body);
- "quoted phrases": the words next to each other, in order;
- `-word` or `-"a phrase"`: items containing it are left out;
- `A OR B` (upper-case OR between two terms): either will do.

Everything else (FTS5 syntax such as `NEAR(`, `*`, `^`, `title:`, parentheses, lone quotes,
AND/NOT) is plain text: it is cut into tokens exactly like the indexed text
(`bot.search.normalize`), so punctuation separates and has no meaning. One whitespace-delimited
chunk that yields several tokens (`gpt-4`, `自動更新`, `e.mail`) is a phrase of them, which is
also how FTS5 would read it quoted. The same `Query` drives `/search` (through `to_fts5`) and
the topic percolator, so both mean the same thing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.search.normalize import tokens

MAX_TERMS = 32  # phrases (required, alternatives and excluded) per query; extra ones are ignored
MAX_PHRASE_TOKENS = 32  # tokens per phrase; a longer phrase is cut (on both sides alike)
MAX_QUERY_CHARS = 4000  # characters read from the input

Phrase = tuple[str, ...]
"""Normalized tokens that must occur next to each other in one field (one token = a word)."""


class QueryProblem(enum.Enum):
    """Why a query cannot be run; `.message` is a polite sentence for the member."""

    NO_WORDS = "Your search has no searchable words (letters or numbers)."
    ONLY_EXCLUSIONS = "Your search only excludes words (with -). Add at least one word to look for."

    @property
    def message(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Query:
    """Every group must match; a group matches when any of its phrases occurs (OR).

    No item may contain an `excluded` phrase. Groups, phrases and exclusions are kept in the
    member's order (duplicates removed), so `key` is stable for the same words.
    """

    groups: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...]

    @property
    def problem(self) -> QueryProblem | None:
        if self.groups:
            return None
        return QueryProblem.ONLY_EXCLUSIONS if self.excluded else QueryProblem.NO_WORDS

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        """All phrases to look for (required and alternatives), without exclusions."""
        return tuple(p for group in self.groups for p in group)

    @property
    def key(self) -> str:
        """A canonical text of the query: equal for queries that mean the same."""
        groups = sorted(" OR ".join(sorted(_show(p) for p in g)) for g in self.groups)
        excluded = sorted("-" + _show(p) for p in self.excluded)
        return " ".join(groups + excluded)

    def __str__(self) -> str:
        parts = [" OR ".join(_show(p) for p in g) for g in self.groups]
        parts += ["-" + _show(p) for p in self.excluded]
        return " ".join(parts)


def _show(phrase: Phrase) -> str:
    return phrase[0] if len(phrase) == 1 else '"' + " ".join(phrase) + '"'


# A chunk: optional "-", then a quoted phrase (closed) or a run of non-space characters.
# An unmatched quote is not a phrase: it is just a separator inside a plain chunk.
_CHUNK = re.compile(r'(-?)"([^"]*)"|(\S+)')


@dataclass(frozen=True, slots=True)
class _Term:
    phrase: Phrase
    excluded: bool


def _terms(text: str) -> list[_Term | None]:
    """Chunks in order; None stands for an `OR` operator."""
    out: list[_Term | None] = []
    for match in _CHUNK.finditer(text):
        quoted = match.group(2)
        if quoted is not None:
            excluded = match.group(1) == "-"
            words = tokens(quoted)
        else:
            raw = match.group(3)
            if raw == "OR":
                out.append(None)
                continue
            excluded = raw.startswith("-") and len(raw) > 1
            words = tokens(raw[1:] if excluded else raw)
        if words:
            out.append(_Term(tuple(words[:MAX_PHRASE_TOKENS]), excluded))
    return out


def parse_query(text: str | None) -> Query | None:
    """Parse what a member typed; None when there is nothing searchable at all.

    Never raises: any text gives a Query or None. A Query may still be unrunnable (only
    exclusions): check `query.problem`.
    """
    if not text:
        return None
    terms = _terms(text[:MAX_QUERY_CHARS])
    groups: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    budget = MAX_TERMS
    join_next = False  # the previous chunk was OR, right after a positive term
    previous_positive = False
    for term in terms:
        if term is None:
            join_next = previous_positive
            previous_positive = False
            continue
        if budget == 0:
            break
        if term.excluded:
            if term.phrase not in excluded:
                excluded.append(term.phrase)
                budget -= 1
            join_next = previous_positive = False
            continue
        if join_next and groups:
            if term.phrase not in groups[-1]:
                groups[-1].append(term.phrase)
                budget -= 1
        else:
            groups.append([term.phrase])
            budget -= 1
        join_next = False
        previous_positive = True
    unique: list[tuple[Phrase, ...]] = []
    for group in groups:
        frozen = tuple(group)
        # A group holding a phrase that is required on its own adds nothing; same group twice too.
        if frozen in unique:
            continue
        unique.append(frozen)
    singles = {g[0] for g in unique if len(g) == 1}
    unique = [g for g in unique if len(g) == 1 or not singles.intersection(g)]
    if not unique and not excluded:
        return None
    return Query(tuple(unique), tuple(excluded))


def _quote(phrase: Phrase) -> str:
    # Tokens contain no spaces and no double quotes (both are separators), so quoting is safe.
    return '"' + " ".join(phrase) + '"'


def to_fts5(query: Query) -> str | QueryProblem:
    """A MATCH expression for FTS5, every token quoted; or why the query cannot run."""
    problem = query.problem
    if problem is not None:
        return problem
    parts = []
    for group in query.groups:
        if len(group) == 1:
            parts.append(_quote(group[0]))
        else:
            parts.append("(" + " OR ".join(_quote(p) for p in group) + ")")
    expression = " AND ".join(parts)
    if query.excluded:
        expression = f"({expression}) NOT (" + " OR ".join(_quote(p) for p in query.excluded) + ")"
    return expression
