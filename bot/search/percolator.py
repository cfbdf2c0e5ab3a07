"""Which followed topics does a new item match? Work grows with the item, not the topic count.

A topic is a saved search (`bot.model.Query`): an item matches exactly when `/search`
with the same words would return it, read as `bot.search.matcher.ItemTokens` reads it (a
phrase inside one field, whole tokens of the index's normalizer).

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

Adding and removing topics is incremental (dict updates), so there is nothing to rebuild. A
character-level automaton (pyahocorasick) was measured over the 100 MB budget at 100k topics;
this index stays well under it (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.model import Phrase, Query
from bot.search.matcher import ItemTokens
from bot.search.query import parse_query
from bot.store.topics import TopicStore

# A topic is filed under each pattern of its anchor group, in one of three shapes:
# - plain: one group, no exclusions: present anchor = match (the entry is the topic id);
# - pair: two one-pattern groups, no exclusions: (topic id, the other pattern id);
# - checked: anything else: (topic id, the other groups, the excluded pattern ids).
_Checked = tuple[int, tuple[tuple[int, ...], ...], tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Topic:
    patterns: tuple[int, ...]  # every pattern id it uses (required and excluded), with repeats
    anchor: tuple[int, ...]  # the pattern ids it is filed under
    entry: int | tuple[int, int] | _Checked


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
        self._single: dict[str, int] = {}  # token → pattern id of the one-token pattern
        self._pairs: dict[tuple[str, str], int] = {}  # two tokens → the two-token pattern
        # first two tokens → the longer patterns starting with them
        self._long: dict[tuple[str, str], list[tuple[int, Phrase]]] = {}
        # Indexed by anchor pattern id (ids are dense): the topics filed there, by shape (see
        # _Topic); None where nothing is filed.
        self._plain: list[list[int] | None] = []
        self._pair: list[list[tuple[int, int]] | None] = []
        self._checked: list[list[_Checked] | None] = []
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
        entry: int | tuple[int, int] | _Checked
        if not others and not excluded:
            entry = topic_id
        elif len(others) == 1 and len(others[0]) == 1 and not excluded:
            entry = (topic_id, others[0][0])
        else:
            entry = (topic_id, others, excluded)
        patterns = tuple(p for group in groups for p in group) + excluded
        topic = _Topic(patterns, groups[anchor], entry)
        self._topics[topic_id] = topic
        for pattern_id in topic.anchor:
            self._file(pattern_id, entry, add=True)

    def remove(self, topic_id: int) -> None:
        topic = self._topics.pop(topic_id, None)
        if topic is None:
            return
        for pattern_id in topic.anchor:
            self._file(pattern_id, topic.entry, add=False)
        for pattern_id in topic.patterns:
            self._release(pattern_id)

    def _file(self, pattern_id: int, entry: int | tuple[int, int] | _Checked, *, add: bool) -> None:
        index: list[list[Any] | None] = (
            self._plain
            if isinstance(entry, int)
            else self._pair
            if len(entry) == 2
            else self._checked
        )
        filed = index[pattern_id] or []
        if add:
            filed.append(entry)
        else:
            filed.remove(entry)
        index[pattern_id] = filed or None

    def _use(self, phrase: Phrase) -> int:
        pattern_id = self._pattern_ids.get(phrase)
        if pattern_id is None:
            pattern_id = len(self._plain)  # ids are dense: one slot per id in each index
            self._plain.append(None)
            self._pair.append(None)
            self._checked.append(None)
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

    def match(self, texts: Sequence[str]) -> set[int]:
        """Ids of the topics an item with these text fields (title, summary, text) matches."""
        item = ItemTokens(texts)
        # Set operations in C; the item's tokens are few, so they walk them, not the big dicts.
        single, pairs, long = self._single, self._pairs, self._long
        found = {single[t] for t in single.keys() & item.present}
        found.update([pairs[p] for p in pairs.keys() & item.starts.keys()])
        for start in long.keys() & item.starts.keys():
            found.update([pattern_id for pattern_id, phrase in long[start] if item.has(phrase)])
        matched: set[int] = set()
        plain, paired, checked = self._plain, self._pair, self._checked
        isdisjoint = found.isdisjoint
        for pattern_id in found:
            topics = plain[pattern_id]
            if topics is not None:
                matched.update(topics)
            pairs_filed = paired[pattern_id]
            if pairs_filed is not None:
                matched.update([t for t, other in pairs_filed if other in found])
            checked_filed = checked[pattern_id]
            if checked_filed is not None:
                for topic_id, others, excluded in checked_filed:
                    if isdisjoint(excluded) and not any(map(isdisjoint, others)):
                        matched.add(topic_id)
        return matched


async def active_topics_percolator(topics: TopicStore) -> Percolator:
    """A percolator over every active topic (keep it current with add/remove on follow,
    unfollow, DMs closed or resumed)."""
    pairs = [
        (t.id, q) for t in await topics.all_active() if (q := parse_query(t.query)) is not None
    ]
    return Percolator(pairs)
