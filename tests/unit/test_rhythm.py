"""The rhythm picture's rules: bars scaled to the busiest week, weeks counted back from now."""

from __future__ import annotations

from bot.features.feeds.rhythm import WEEK_S, WEEKS, marks, rhythm_of, sparkline

NOW = 1_800_000_000.0


def test_bars_scale_to_the_busiest_week_and_an_empty_week_is_a_dot() -> None:
    counts = {0: 1, 5: 16, 11: 8}
    rhythm = rhythm_of(counts, NOW - 3600, None, NOW)
    assert sparkline(rhythm) == "▁····█·····▄"
    assert marks(rhythm) == "\u00a0" * 11 + "▲"


def test_failing_for_longer_than_the_picture_marks_every_week() -> None:
    rhythm = rhythm_of({}, NOW - 40 * WEEK_S, NOW - 20 * WEEK_S, NOW)
    assert rhythm.newest_week is None and rhythm.failing_from == 0
    assert sparkline(rhythm) == "·" * WEEKS
    assert sparkline(rhythm, compact=True) == "✗" * WEEKS
    assert marks(rhythm) == "✗" * WEEKS


def test_an_item_dated_in_the_future_counts_as_this_week() -> None:
    assert rhythm_of({}, NOW + 3 * WEEK_S, None, NOW).newest_week == WEEKS - 1
