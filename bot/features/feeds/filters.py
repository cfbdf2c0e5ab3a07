"""A subscription's filter: which of its feed's items are posted to the channel.

- `include`: a query in the /search language; only items matching it are posted.
- `exclude`: a query in the same language; an item matching it is never posted.
- `pattern`: an RE2 regular expression on the title and on the summary; an item it matches
  is never posted. RE2 runs in time linear in the text, so no pattern can stall the bot;
  what RE2 cannot run (backreferences, lookaround) is refused when the filter is set.

include and exclude match title, summary and text exactly as /search would (the same parser,
`bot.search.query`, and the index's tokens, `bot.search.matcher`). A filtered item is still
archived and searchable: filters decide only what is posted (bot.store.routing,
bot.store.digests call `check_filters`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import re2

from bot.i18n import _
from bot.model import FeedFilter, ItemText, QueryProblem
from bot.search.matcher import ItemTokens, QueryMatcher
from bot.search.query import parse_query

log = logging.getLogger(__name__)

MAX_FILTER_CHARS = 500  # per part (include, exclude, pattern)
# RE2's memory budget for one compiled pattern; a pattern needing more is refused as too big.
_PATTERN_MAX_MEM = 2 * 1024 * 1024
_COMPILED_CACHE = 4096  # distinct filters kept compiled (a filter is shared by identical ones)


class FilterError(Exception):
    """The filter cannot be used; the message names the problem for the admin."""

    @property
    def message(self) -> str:
        return str(self)


@dataclass(slots=True)
class FilterInput:
    """An item as filters read it: title and summary for the pattern, tokens (cut once, on
    first need) for include and exclude. One per item, shared by every filter checked."""

    title: str
    summary: str
    text: str
    _tokens: ItemTokens | None = field(default=None, init=False)

    @property
    def tokens(self) -> ItemTokens:
        if self._tokens is None:
            self._tokens = ItemTokens((self.title, self.summary, self.text))
        return self._tokens


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A filter ready to run: `check` says whether (and by which rule) it holds an item back."""

    source: FeedFilter
    include: QueryMatcher | None
    exclude: QueryMatcher | None
    pattern: re2._Regexp | None

    def check(self, item: FilterInput, pattern_hits: set[str] | None = None) -> str | None:
        """None: the item passes; else the rule that holds it back, in words (e.g. 'exclude
        "sponsored"'). `pattern_hits`: the patterns known to match the item (`check_filters`)."""
        if pattern_hits is not None:
            pattern_hit = self.source.pattern in pattern_hits
        else:
            pattern_hit = self.pattern is not None and (
                _search(self.pattern, item.title) or _search(self.pattern, item.summary)
            )
        if pattern_hit:
            return _("pattern {pattern}", pattern=_quote(self.source.pattern))
        if self.exclude is not None and self.exclude.matches(item.tokens):
            return _("exclude {query}", query=_quote(self.source.exclude))
        if self.include is not None and not self.include.matches(item.tokens):
            return _("include {query} (not matched)", query=_quote(self.source.include))
        return None


def _quote(text: str | None) -> str:
    return f'"{text or ""}"'


def _utf8(text: str) -> bytes:
    """RE2 reads UTF-8: a lone surrogate from a feed becomes "?"."""
    return text.encode("utf-8", "replace")


def _search(pattern: re2._Regexp, text: str) -> bool:
    return bool(text) and pattern.search(_utf8(text).decode("utf-8")) is not None


def _query(part: str, text: str) -> QueryMatcher:
    query = parse_query(text)
    if query is None:
        raise FilterError(f"{part}: {QueryProblem.NO_WORDS.message}")
    if query.problem is QueryProblem.ONLY_EXCLUSIONS:
        if part == "include":
            raise FilterError(
                _(
                    "include only leaves words out (with -): put them in exclude instead, or "
                    "add a word that items must contain."
                )
            )
        raise FilterError(
            _(
                "exclude only has -words: write the words to leave out without the minus "
                '(exclude: sponsored "paid post").'
            )
        )
    return QueryMatcher(query)


def _pattern_problem(error: str) -> str:
    """RE2's complaint → a sentence for the admin naming the problem."""
    if error.startswith("invalid escape sequence: \\") and error[-1:].isdigit():
        what = _("backreferences") + " (\\1, \\2 …)"
    elif error.startswith(("invalid perl operator: (?=", "invalid perl operator: (?!")):
        what = _("lookahead") + " ((?=…), (?!…))"
    elif error.startswith(("invalid perl operator: (?<=", "invalid perl operator: (?<!")):
        what = _("lookbehind") + " ((?<=…), (?<!…))"
    elif "pattern too large" in error:
        return _("pattern: it is too large to run; make it shorter or simpler.")
    else:
        return _("pattern: it is not a valid regular expression ({error}).", error=error)
    return _(
        "pattern: {what} are not supported: patterns run on RE2, which guarantees a "
        "linear-time match. Rewrite it without them (an exclude query may say it in words).",
        what=what,
    )


def _options(max_mem: int) -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    options.max_mem = max_mem
    return options


def _pattern(text: str) -> re2._Regexp:
    options = _options(_PATTERN_MAX_MEM)
    try:
        return re2.compile(text, options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        error = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise FilterError(_pattern_problem(error)) from None


def compile_filter(f: FeedFilter) -> CompiledFilter:
    """Check and compile a filter; FilterError names the first problem found (a part that is
    too long, a query without words, a pattern RE2 cannot run)."""
    for part, text in (("include", f.include), ("exclude", f.exclude), ("pattern", f.pattern)):
        if text is not None and len(text) > MAX_FILTER_CHARS:
            raise FilterError(
                _("{part} is longer than {limit} characters.", part=part, limit=MAX_FILTER_CHARS)
            )
    return CompiledFilter(
        f,
        _query("include", f.include) if f.include else None,
        _query("exclude", f.exclude) if f.exclude else None,
        _pattern(f.pattern) if f.pattern else None,
    )


@lru_cache(maxsize=_COMPILED_CACHE)
def _compiled(f: FeedFilter) -> CompiledFilter | None:
    try:
        return compile_filter(f)
    except FilterError as exc:  # stored before some change made it unusable: let items pass
        log.warning("a stored feed filter no longer compiles (%s); it is ignored", exc)
        return None


@lru_cache(maxsize=64)
def _pattern_set(patterns: tuple[str, ...]) -> re2.Set | None:
    """The patterns as one RE2 set: one pass over a text finds every pattern that matches,
    however many there are. None: too big to build (then each pattern runs on its own)."""
    found = re2.Set.SearchSet(_options(_PATTERN_MAX_MEM * 8))
    try:
        for pattern in patterns:
            found.Add(pattern)
        found.Compile()
    except re2.error:
        return None
    return found


def _pattern_hits(patterns: tuple[str, ...], item: FilterInput) -> set[str] | None:
    """Which of `patterns` match the item's title or summary (None: not known, see above)."""
    found = _pattern_set(patterns) if len(patterns) > 1 else None
    if found is None:
        return None
    hits: set[str] = set()
    for text in (item.title, item.summary):
        if text:
            hits.update(patterns[i] for i in found.Match(_utf8(text)) or ())
    return hits


def check_filters(filters: Sequence[FeedFilter], item: ItemText) -> list[str | None]:
    """For each filter, the rule that holds `item` back (None: it passes). This is the
    store's `FilterGate`: the item is cut into tokens once for all filters, and all their
    patterns run as one RE2 set (bench/filters.py)."""
    wrapped = FilterInput(item.title, item.summary, item.text)
    compiled = [_compiled(f) for f in filters]
    patterns = tuple(dict.fromkeys(c.source.pattern for c in compiled if c and c.source.pattern))
    hits = _pattern_hits(patterns, wrapped)
    return [None if one is None else one.check(wrapped, hits) for one in compiled]


def describe_filter(f: FeedFilter) -> list[str]:
    """The filter in words, a phrase per part (the admin's own text, not yet escaped)."""
    words: list[str] = []
    if f.include:
        words.append(_("only items matching {query}", query=_quote(f.include)))
    if f.exclude:
        words.append(_("never items matching {query}", query=_quote(f.exclude)))
    if f.pattern:
        words.append(
            _(
                "never items whose title or summary matches the pattern {pattern}",
                pattern=_quote(f.pattern),
            )
        )
    return words
