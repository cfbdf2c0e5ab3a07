"""A parsed search query as plain data: what `/search` runs and a followed topic matches.

`bot.search.query.parse_query` builds it from what a member typed; the store renders it in
SQLite's FTS5 dialect (`bot.store.search.to_fts5`); the percolator matches it in memory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
