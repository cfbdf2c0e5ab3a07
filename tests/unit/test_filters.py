"""Feed filters (bot.features.feeds.filters): the /search language, RE2 patterns, clear refusals."""

from __future__ import annotations

import time

import pytest

from bot.features.feeds.filters import (
    CompiledFilter,
    FilterError,
    FilterInput,
    check_filters,
    compile_filter,
)
from bot.model import FeedFilter, ItemText
from bot.search.percolator import Percolator
from bot.search.query import parse_query


def blocked_by(f: CompiledFilter, title: str, summary: str, text: str) -> str | None:
    """The rule holding the item back, as `/feed filter`'s preview asks it of one filter."""
    return f.check(FilterInput(title, summary, text))


@pytest.mark.parametrize(
    ("query", "texts"),
    [
        ("rust", ("Rust 1.80 released", "", "")),
        ("rust", ("Trust issues", "", "")),  # whole tokens only
        ('"open source"', ("", "open-source tools", "")),
        ('"open source"', ("open", "source", "")),  # a phrase stays inside one field
        ("release OR launch", ("", "", "The launch is today")),
        ("python -snake", ("Python snakes", "python", "")),
        ("python -snake", ("Python", "", "a snake")),
        ('"a b c"', ("x a b c y", "", "")),
        ('"a b c"', ("a b x a b d c", "", "")),
        ("café", ("Cafe reviews", "", "")),  # diacritics fold as in the index
        ("自動", ("", "自動更新", "")),
    ],
)
def test_include_matches_exactly_as_the_percolator(query: str, texts: tuple[str, str, str]) -> None:
    """A filter's include says the same as a followed topic (and so /search) on every case."""
    parsed = parse_query(query)
    assert parsed is not None
    topic_matches = bool(Percolator([(1, parsed)]).match(texts))
    blocked = blocked_by(compile_filter(FeedFilter(include=query)), *texts)
    assert (blocked is None) == topic_matches


def test_rules_are_named_in_words() -> None:
    f = compile_filter(FeedFilter(include="rust", exclude="sponsored", pattern=r"^\[Ad\]"))
    assert blocked_by(f, "Rust news", "", "") is None
    assert blocked_by(f, "Go news", "", "") == 'include "rust" (not matched)'
    assert blocked_by(f, "Rust news", "sponsored by X", "") == 'exclude "sponsored"'
    assert blocked_by(f, "[Ad] Rust", "", "") == 'pattern "^\\[Ad\\]"'
    # The pattern reads title and summary, not the body.
    assert blocked_by(f, "Rust", "", "[Ad] body") is None


def test_check_filters_answers_per_filter() -> None:
    item = ItemText(1, None, "Giveaway: win a Rust book", "", "")
    rules = check_filters(
        [FeedFilter(pattern="(?i)giveaway"), FeedFilter(include="rust"), FeedFilter(include="go")],
        item,
    )
    assert rules == ['pattern "(?i)giveaway"', None, 'include "go" (not matched)']


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    f = compile_filter(FeedFilter(pattern="(a+)+$"))
    title = "a" * 50_000 + "!"
    started = time.perf_counter()
    blocked = blocked_by(f, title, title, "")
    took = time.perf_counter() - started
    print(f"(a+)+$ on 50,000 a's + '!' (title and summary): {took * 1000:.2f} ms")
    assert blocked is None
    assert took < 1.0  # generous: a backtracking engine takes longer than the universe


@pytest.mark.parametrize(
    ("part", "problem"),
    [
        (FeedFilter(pattern=r"(a)\1"), "backreferences"),
        (FeedFilter(pattern=r"foo(?=bar)"), "lookahead"),
        (FeedFilter(pattern=r"(?<!x)y"), "lookbehind"),
        (FeedFilter(pattern="[unclosed"), "not a valid regular expression (missing ]"),
        (FeedFilter(include="-sponsored"), "put them in exclude"),
        (FeedFilter(exclude="-sponsored"), "without the minus"),
        (FeedFilter(include="!!! ???"), "no searchable words"),
        (FeedFilter(exclude="x" * 501), "longer than 500 characters"),
    ],
)
def test_unusable_filters_get_a_message_naming_the_problem(part: FeedFilter, problem: str) -> None:
    with pytest.raises(FilterError) as raised:
        compile_filter(part)
    assert problem in raised.value.message


def test_check_filters_runs_many_patterns_as_one_set_with_the_same_answers() -> None:
    """Many subscriptions' patterns run as one RE2 set: each filter still gets its own rule."""
    filters = [
        FeedFilter(pattern=rf"(?i)^\[(ad|promo{n})\]", exclude=f"word{n}") for n in range(50)
    ]
    filters.append(FeedFilter(include="rust"))
    for title, summary in [("[promo7] x", ""), ("x", "[AD] y"), ("rust word3", ""), ("z", "")]:
        item = ItemText(1, None, title, summary, "")
        expected = [blocked_by(compile_filter(f), title, summary, "") for f in filters]
        assert check_filters(filters, item) == expected
