"""Does one item match one query? The same answer as `/search`.

An item is cut into tokens once (`ItemTokens`, by the index's normalizer, `bot.store.tokens`)
and then checked cheaply against any number of queries (feed filters, mentions) or topics
(`bot.search.percolator`). A phrase matches inside one field (title, summary or text), its
tokens next to each other, as FTS5 reads it; whole tokens only: "ai" never matches in "said".
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from bot.model import Phrase, Query
from bot.store.tokens import tokens


class ItemTokens:
    """An item's text fields (title, summary, text) as tokens, for matching many queries."""

    __slots__ = ("_fields", "present", "starts")

    def __init__(self, texts: Sequence[str]) -> None:
        self._fields = [tokens(text) for text in texts]
        self.present: set[str] = set()
        # Each pair of neighbouring tokens → where it starts (field, position): a longer
        # phrase is checked only there, not by a scan of the whole text.
        self.starts: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for number, field in enumerate(self._fields):
            self.present.update(field)
            for position, pair in enumerate(pairwise(field)):
                self.starts.setdefault(pair, []).append((number, position))

    def has(self, phrase: Phrase) -> bool:
        """Whether the phrase occurs in one field, its tokens next to each other."""
        if len(phrase) == 1:
            return phrase[0] in self.present
        starts = self.starts.get((phrase[0], phrase[1]))
        if starts is None:
            return False
        size = len(phrase)
        return size == 2 or any(
            tuple(self._fields[number][position : position + size]) == phrase
            for number, position in starts
        )

    def matches(self, query: Query) -> bool:
        return QueryMatcher(query).matches(self)


class QueryMatcher:
    """One query, prepared for checking many items: its one-word terms as sets, so a check is
    mostly set operations in C (a filter is checked for every new item of its feed)."""

    __slots__ = ("_excluded_phrases", "_excluded_words", "_groups")

    def __init__(self, query: Query) -> None:
        self._groups = tuple(
            (frozenset(p[0] for p in group if len(p) == 1), tuple(p for p in group if len(p) > 1))
            for group in query.groups
        )
        self._excluded_words = frozenset(p[0] for p in query.excluded if len(p) == 1)
        self._excluded_phrases = tuple(p for p in query.excluded if len(p) > 1)

    def matches(self, item: ItemTokens) -> bool:
        """Every group has a phrase present and no excluded phrase is present. A query with
        no required group never matches (as in the percolator; /search refuses it)."""
        if not self._groups:
            return False
        present, has = item.present, item.has
        for words, phrases in self._groups:
            if present.isdisjoint(words) and not (phrases and any(map(has, phrases))):
                return False
        if not present.isdisjoint(self._excluded_words):
            return False
        excluded = self._excluded_phrases
        return not (excluded and any(map(has, excluded)))
