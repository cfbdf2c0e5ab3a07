"""Which followed topics does a new item match? Work grows with the item, not the topic count.

A topic is a saved search (`bot.search.query.Query`): an item matches exactly when `/search`
with the same words would return it. FTS5 finds a phrase inside one column (title, summary,
text) and combines terms per row; here each field is cut into tokens by the same normalizer as
the index (`bot.search.normalize`), and a phrase is found when its tokens occur next to each
other in one field. Matching works on whole tokens, so "ai" never matches inside "said".

The index is an n-gram hash over tokens (a token-level Aho-Corasick without failure links,
which phrases of at most 32 tokens do not need):

- every phrase of every topic (required, alternative or excluded) is a pattern; one-token
  patterns sit in a dict token → pattern, two-token ones in a dict pair → pattern, longer ones
  under their first two tokens;
- an item's distinct tokens and token pairs are looked up in those dicts, and only positions
  whose pair starts a longer pattern are checked token by token;
- each topic is filed under one "anchor" group (its most selective-looking one: longer phrases,
  longer words), so only topics whose anchor is present are looked at, then checked exactly:
  every group has a pattern present, no excluded pattern is present.

Adding and removing topics is incremental (dict updates), so there is nothing to rebuild.
A character-level automaton (pyahocorasick) over the same patterns measured 3.4 s to build and
~230 MB RSS at 100k topics on the benchmark machine, over the 100 MB budget; this index stays
well under it (see bench/percolate.py and bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from bot.search.normalize import tokens
from bot.search.query import Phrase, Query


@dataclass(frozen=True, slots=True)
class _Topic:
    groups: tuple[tuple[int, ...], ...]  # pattern ids; each group needs one of them
    excluded: tuple[int, ...]
    anchor: int  # index into groups
    others: tuple[tuple[int, ...], ...]  # the groups but the anchor: checked on a candidate


def _selectivity(phrase: Phrase) -> tuple[int, int]:
    """Higher is rarer (a guess without statistics): more tokens, then longer words."""
    return len(phrase), max(len(t) for t in phrase)


class Percolator:
    """Topic id → Query, matched against items. Not thread-safe: use from one task or thread."""

    def __init__(self, topics: Iterable[tuple[int, Query]] = ()) -> None:
        self._topics: dict[int, _Topic] = {}
        self._pattern_ids: dict[Phrase, int] = {}
        self._phrases: dict[int, Phrase] = {}
        self._uses: dict[int, int] = {}
        self._next_pattern = 0
        self._single: dict[str, int] = {}  # token → pattern id of the one-token pattern
        self._pairs: dict[tuple[str, str], int] = {}  # two tokens → the two-token pattern
        # first two tokens → the longer patterns starting with them
        self._long: dict[tuple[str, str], list[tuple[int, Phrase]]] = {}
        self._anchored: dict[int, list[int]] = {}  # pattern id → topics anchored on it
        # pattern id → topics that are just that one pattern (or an OR of some): no checks
        self._direct: dict[int, list[int]] = {}
        for topic_id, query in topics:
            self.add(topic_id, query)

    def __len__(self) -> int:
        return len(self._topics)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._topics

    def add(self, topic_id: int, query: Query) -> None:
        """Follow (or replace) a topic. A query with no required group never matches."""
        if topic_id in self._topics:
            self.remove(topic_id)
        if not query.groups:
            return
        groups = tuple(tuple(self._use(p) for p in group) for group in query.groups)
        excluded = tuple(self._use(p) for p in query.excluded)
        anchor = max(
            range(len(groups)),
            key=lambda i: min(_selectivity(p) for p in query.groups[i]),
        )
        others = groups[:anchor] + groups[anchor + 1 :]
        self._topics[topic_id] = _Topic(groups, excluded, anchor, others)
        index = self._direct if len(groups) == 1 and not excluded else self._anchored
        for pattern_id in groups[anchor]:
            index.setdefault(pattern_id, []).append(topic_id)

    def remove(self, topic_id: int) -> None:
        topic = self._topics.pop(topic_id, None)
        if topic is None:
            return
        index = self._direct if len(topic.groups) == 1 and not topic.excluded else self._anchored
        for pattern_id in topic.groups[topic.anchor]:
            filed = index[pattern_id]
            filed.remove(topic_id)
            if not filed:
                del index[pattern_id]
        for group in topic.groups:
            for pattern_id in group:
                self._release(pattern_id)
        for pattern_id in topic.excluded:
            self._release(pattern_id)

    def _use(self, phrase: Phrase) -> int:
        pattern_id = self._pattern_ids.get(phrase)
        if pattern_id is None:
            pattern_id = self._next_pattern
            self._next_pattern += 1
            self._pattern_ids[phrase] = pattern_id
            self._phrases[pattern_id] = phrase
            self._uses[pattern_id] = 0
            if len(phrase) == 1:
                self._single[phrase[0]] = pattern_id
            elif len(phrase) == 2:
                self._pairs[(phrase[0], phrase[1])] = pattern_id
            else:
                self._long.setdefault((phrase[0], phrase[1]), []).append((pattern_id, phrase))
        self._uses[pattern_id] += 1
        return pattern_id

    def _release(self, pattern_id: int) -> None:
        self._uses[pattern_id] -= 1
        if self._uses[pattern_id]:
            return
        del self._uses[pattern_id]
        phrase = self._phrases.pop(pattern_id)
        del self._pattern_ids[phrase]
        if len(phrase) == 1:
            del self._single[phrase[0]]
        elif len(phrase) == 2:
            del self._pairs[(phrase[0], phrase[1])]
        else:
            longer = self._long[(phrase[0], phrase[1])]
            longer.remove((pattern_id, phrase))
            if not longer:
                del self._long[(phrase[0], phrase[1])]

    def match(self, fields: Sequence[str]) -> set[int]:
        """Ids of the topics an item with these text fields (title, summary, text) matches."""
        return self.match_tokens([tokens(field) for field in fields])

    def match_tokens(self, fields: Sequence[list[str]]) -> set[int]:
        """Like `match`, for fields already cut by `bot.search.normalize.tokens`."""
        present: set[str] = set()
        pairs_present: set[tuple[str, str]] = set()
        for field in fields:
            present.update(field)
            pairs_present.update(pairwise(field))
        # (Loop over the item's small sets: intersecting with a big dict would walk the dict.)
        single, pairs, long = self._single.get, self._pairs.get, self._long
        found = {p for t in present if (p := single(t)) is not None}
        found.update(p for t in pairs_present if (p := pairs(t)) is not None)
        if long:
            starts = {p for p in pairs_present if p in long}
            if starts:
                for field in fields:
                    for i, pair in enumerate(pairwise(field)):
                        if pair in starts:
                            for pattern_id, phrase in long[pair]:
                                if tuple(field[i : i + len(phrase)]) == phrase:
                                    found.add(pattern_id)
        matched: set[int] = set()
        direct, anchored, topics = self._direct.get, self._anchored.get, self._topics
        isdisjoint = found.isdisjoint
        for pattern_id in found:
            plain = direct(pattern_id)
            if plain is not None:
                matched.update(plain)
            candidates = anchored(pattern_id)
            if candidates is None:
                continue
            for topic_id in candidates:
                topic = topics[topic_id]
                if isdisjoint(topic.excluded) and not any(map(isdisjoint, topic.others)):
                    matched.add(topic_id)
        return matched
