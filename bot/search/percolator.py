"""Which followed topics does a new item match? Work grows with the item, not the topic count.

A topic is a saved search (`bot.search.query.Query`): an item matches exactly when `/search`
with the same words would return it. FTS5 looks a phrase up inside one column (title, summary,
text) and combines terms per row, so here each field is tokenized by the same normalizer as the
index and encoded as " tok tok tok ", fields joined by " \\n ". A phrase becomes the pattern
" t1 t2 ": it occurs in the encoded item exactly when the tokens occur next to each other in one
field (a space on each side keeps "ai" from matching inside "said", "\\n" keeps a phrase from
spanning two fields).

All patterns go into one Aho-Corasick automaton (pyahocorasick). One pass over the item finds
every pattern present; an inverted list pattern → (topic, group) counts the groups each topic
has satisfied; only topics with all groups satisfied are then checked for exclusions.

Topics added after the automaton was built wait in a small pending set (checked by substring
search) until enough accumulate to rebuild; removal is immediate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ahocorasick

from bot.search.normalize import tokens
from bot.search.query import Phrase, Query

# Pending patterns are checked one by one (`in`); past this many the automaton is rebuilt.
PENDING_LIMIT = 128


def encode_fields(fields: Sequence[str]) -> str:
    """The item as the percolator sees it: each field's tokens, fields kept apart."""
    return " " + " \n ".join(" ".join(tokens(field)) for field in fields) + " "


def _pattern(phrase: Phrase) -> str:
    return " " + " ".join(phrase) + " "


class Percolator:
    """Topic id → Query, matched against items. Not thread-safe: use from one task or thread."""

    def __init__(self, topics: Iterable[tuple[int, Query]] = ()) -> None:
        self._queries: dict[int, Query] = {}
        self._pattern_ids: dict[str, int] = {}
        self._patterns: list[str] = []
        # pattern id → {(topic id, group index)} of topics requiring it (in that OR group)
        self._postings: dict[int, set[tuple[int, int]]] = {}
        self._automaton: ahocorasick.Automaton | None = None
        self._built_patterns = 0  # pattern ids below this are in the automaton
        for topic_id, query in topics:
            self._insert(topic_id, query)
        self.rebuild()

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._queries

    def add(self, topic_id: int, query: Query) -> None:
        """Follow (or replace) a topic; cheap, the automaton is rebuilt only now and then."""
        if topic_id in self._queries:
            self.remove(topic_id)
        self._insert(topic_id, query)
        if len(self._patterns) - self._built_patterns > PENDING_LIMIT:
            self.rebuild()

    def remove(self, topic_id: int) -> None:
        query = self._queries.pop(topic_id, None)
        if query is None:
            return
        for index, group in enumerate(query.groups):
            for phrase in group:
                pattern_id = self._pattern_ids.get(_pattern(phrase))
                if pattern_id is not None:
                    self._postings.get(pattern_id, set()).discard((topic_id, index))

    def rebuild(self) -> None:
        """Build the automaton over every pattern in use (drops patterns no topic needs)."""
        in_use = {_pattern(p) for q in self._queries.values() for p in q.phrases}
        patterns = sorted(in_use)
        self._pattern_ids = {p: i for i, p in enumerate(patterns)}
        self._patterns = patterns
        self._postings = {}
        for topic_id, query in self._queries.items():
            self._post(topic_id, query)
        if patterns:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for pattern_id, pattern in enumerate(patterns):
                automaton.add_word(pattern, pattern_id)
            automaton.make_automaton()
            self._automaton = automaton
        else:
            self._automaton = None
        self._built_patterns = len(patterns)

    def _insert(self, topic_id: int, query: Query) -> None:
        self._queries[topic_id] = query
        self._post(topic_id, query)

    def _post(self, topic_id: int, query: Query) -> None:
        for index, group in enumerate(query.groups):
            for phrase in group:
                pattern = _pattern(phrase)
                pattern_id = self._pattern_ids.get(pattern)
                if pattern_id is None:
                    pattern_id = len(self._patterns)
                    self._pattern_ids[pattern] = pattern_id
                    self._patterns.append(pattern)
                self._postings.setdefault(pattern_id, set()).add((topic_id, index))

    def match(self, fields: Sequence[str]) -> set[int]:
        """Ids of the topics an item with these text fields (title, summary, text) matches."""
        return self.match_encoded(encode_fields(fields))

    def match_encoded(self, encoded: str) -> set[int]:
        found: set[int] = set()
        if self._automaton is not None:
            found.update(pattern_id for _, pattern_id in self._automaton.iter(encoded))
        for pattern_id in range(self._built_patterns, len(self._patterns)):
            if self._patterns[pattern_id] in encoded:
                found.add(pattern_id)
        satisfied: dict[int, set[int]] = {}
        for pattern_id in found:
            for topic_id, group in self._postings.get(pattern_id, ()):
                satisfied.setdefault(topic_id, set()).add(group)
        matched: set[int] = set()
        for topic_id, groups in satisfied.items():
            query = self._queries[topic_id]
            if len(groups) == len(query.groups) and not any(
                _pattern(p) in encoded for p in query.excluded
            ):
                matched.add(topic_id)
        return matched
