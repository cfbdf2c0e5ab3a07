"""Does one item match one query? The same answer as `/search` and the topic percolator.

For feed filters: an item is cut into tokens once (`ItemTokens`, by the index's normalizer,
`bot.search.normalize`) and then checked against any number of queries cheaply. A phrase
matches inside one field (title, summary or text), its tokens next to each other, as FTS5 and
`bot.search.percolator` read it; whole tokens only, so "ai" never matches inside "said".
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from bot.model import Phrase, Query
from bot.search.normalize import tokens


class ItemTokens:
    """An item's text fields (title, summary, text) as tokens, for matching many queries."""

    __slots__ = ("_fields", "_pairs", "_present")

    def __init__(self, texts: Sequence[str]) -> None:
        self._fields = [tokens(text) for text in texts]
        self._present: set[str] = set()
        self._pairs: set[tuple[str, str]] = set()
        for field in self._fields:
            self._present.update(field)
            self._pairs.update(pairwise(field))

    def has(self, phrase: Phrase) -> bool:
        """Whether the phrase occurs in one field, its tokens next to each other."""
        if len(phrase) == 1:
            return phrase[0] in self._present
        if (phrase[0], phrase[1]) not in self._pairs:
            return False
        if len(phrase) == 2:
            return True
        size = len(phrase)
        first = phrase[0]
        return any(
            field[i] == first and tuple(field[i : i + size]) == phrase
            for field in self._fields
            for i in range(len(field) - size + 1)
        )

    def matches(self, query: Query) -> bool:
        """Every group has a phrase present and no excluded phrase is present. A query with
        no required group never matches (as in the percolator; /search refuses it)."""
        has = self.has
        return (
            bool(query.groups)
            and all(any(map(has, group)) for group in query.groups)
            and not any(map(has, query.excluded))
        )
