"""A member's search words → a small query tree (`bot.model.Query`).

The syntax people know and nothing else:

- words: every one must match (anywhere in the title, summary or body);
- "quoted phrases": the words next to each other, in order;
- `-word` or `-"a phrase"`: items containing it are left out;
- `A OR B` (upper-case OR between two terms): either will do;
- `A AND B` means `A B`, and `NOT word` / `NOT "a phrase"` means `-word` / `-"a phrase"`
  (upper-case, as people write them in other search boxes).

Everything else (FTS5 syntax such as `NEAR(`, `*`, `^`, `title:`, parentheses, lone quotes,
lower-case and/or/not) is plain text: it is cut into tokens exactly like the indexed text
(`bot.store.tokens`), so punctuation separates and has no meaning. One whitespace-delimited
chunk that yields several tokens (`gpt-4`, `自動更新`, `e.mail`) is a phrase of them, which is
also how FTS5 would read it quoted. The same `Query` drives `/search` (the store renders it as an
FTS5 MATCH string, `bot.store.search.to_fts5`) and the topic percolator, so both mean the same
thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.model import Phrase, Query
from bot.store.tokens import tokens

MAX_TERMS = 32  # phrases (required, alternatives and excluded) per query; extra ones are ignored
MAX_PHRASE_TOKENS = 32  # tokens per phrase; a longer phrase is cut (on both sides alike)
MAX_QUERY_CHARS = 4000  # characters read from the input

# A chunk: optional "-", then a quoted phrase (closed) or a run of non-space characters.
# An unmatched quote is not a phrase: it is just a separator inside a plain chunk.
_CHUNK = re.compile(r'(-?)"([^"]*)"|(\S+)')


def _terms(text: str) -> Iterator[tuple[Phrase, bool] | None]:
    """Chunks in order as (phrase, excluded); None stands for an `OR` operator. `AND` is
    dropped (every word is required anyway); `NOT` excludes the term after it, as `-` does."""
    negate = False
    for match in _CHUNK.finditer(text):
        quoted = match.group(2)
        if quoted is not None:
            excluded = match.group(1) == "-"
            words = tokens(quoted)
        else:
            raw = match.group(3)
            if raw == "OR":
                negate = False
                yield None
                continue
            if raw == "AND":
                continue
            if raw == "NOT":
                negate = True
                continue
            excluded = raw.startswith("-") and len(raw) > 1
            words = tokens(raw[1:] if excluded else raw)
        if words:
            yield tuple(words[:MAX_PHRASE_TOKENS]), excluded or negate
            negate = False


def parse_query(text: str | None) -> Query | None:
    """Parse what a member typed; None when there is nothing searchable at all. Never raises.
    A Query may still be unrunnable (only exclusions): check `query.problem`."""
    if not text:
        return None
    groups: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    budget = MAX_TERMS
    join_next = False  # the previous chunk was OR, right after a positive term
    previous_positive = False
    for term in _terms(text[:MAX_QUERY_CHARS]):
        if term is None:
            join_next = previous_positive
            previous_positive = False
            continue
        if budget == 0:
            break
        phrase, is_excluded = term
        if is_excluded:
            if phrase not in excluded:
                excluded.append(phrase)
                budget -= 1
            join_next = previous_positive = False
            continue
        if join_next and groups:
            if phrase not in groups[-1]:
                groups[-1].append(phrase)
                budget -= 1
        else:
            groups.append([phrase])
            budget -= 1
        join_next = False
        previous_positive = True
    # A group holding a phrase that is required on its own adds nothing; same group twice too.
    unique = list(dict.fromkeys(tuple(group) for group in groups))
    singles = {g[0] for g in unique if len(g) == 1}
    unique = [g for g in unique if len(g) == 1 or not singles.intersection(g)]
    if not unique and not excluded:
        return None
    return Query(tuple(unique), tuple(excluded))
