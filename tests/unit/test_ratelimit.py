"""The one rate limiter: a sliding window per key, driven by an injected clock."""

from __future__ import annotations

import math

from bot.ratelimit import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_at_most_limit_events_in_any_window_per_key() -> None:
    clock = Clock()
    window = SlidingWindow(3, 10.0, clock)
    assert [window.try_take("a") for _ in range(4)] == [True, True, True, False]
    assert window.wait("a") == 10.0
    assert window.try_take("b")  # another key has its own window
    clock.now += 4.0
    assert window.wait("a") == 6.0
    clock.now += 6.0  # all three have left the window
    assert [window.try_take("a") for _ in range(4)] == [True, True, True, False]


def test_limit_one_is_a_minimum_spacing() -> None:
    clock = Clock()
    window = SlidingWindow(1, 0.1, clock)
    window.record()
    clock.now += 0.09999999999  # a float step just short of the spacing
    window.record()  # recorded anyway (a caller that slept a rounding error too little)
    assert math.isclose(window.wait(), 0.1, rel_tol=1e-6)  # measured from the newest event


def test_limit_zero_allows_nothing() -> None:
    window = SlidingWindow(0, 3600.0, Clock())
    assert window.wait() == math.inf
    assert not window.try_take()


def test_reserve_counts_the_event_when_it_is_allowed_and_queues_callers() -> None:
    clock = Clock()
    pace = SlidingWindow(1, 0.5, clock)
    # Three callers in a row are given the next three slots, half a second apart.
    assert [pace.reserve() for _ in range(3)] == [0.0, 0.5, 1.0]
    clock.now += 0.7  # the second caller woke late: the third slot stays where it was
    assert math.isclose(pace.reserve(), 0.8)
