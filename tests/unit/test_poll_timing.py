"""When feeds are polled: stable, evenly spread slots; backoff; server hints honoured."""

from __future__ import annotations

from collections import Counter

from bot.ingest.timing import (
    MAX_BACKOFF_S,
    next_poll_after_failure,
    next_poll_after_success,
    next_slot,
    slot_offset,
)

INTERVAL = 900.0


def test_slots_are_stable_and_spread_evenly() -> None:
    urls = [f"https://n{n}.example.com/feed" for n in range(4000)]
    offsets = [slot_offset(url, INTERVAL) for url in urls]
    assert offsets == [slot_offset(url, INTERVAL) for url in urls]
    assert all(0 <= o < INTERVAL for o in offsets)
    buckets = Counter(int(o // (INTERVAL / 10)) for o in offsets)
    assert len(buckets) == 10
    assert max(buckets.values()) < 1.2 * 400 and min(buckets.values()) > 0.8 * 400


def test_next_slot_is_the_feeds_slot_within_one_interval() -> None:
    url = "https://example.com/feed"
    for now in (0.0, 123.4, 1_700_000_000.0, 1_700_000_899.9):
        at = next_slot(url, INTERVAL, now)
        assert now < at <= now + INTERVAL
        assert abs((at - slot_offset(url, INTERVAL)) % INTERVAL) < 1e-6


def test_failures_back_off_exponentially_up_to_six_hours() -> None:
    delays = [next_poll_after_failure(INTERVAL, 0.0, n) for n in range(1, 12)]
    assert delays[:4] == [900.0, 1800.0, 3600.0, 7200.0]
    assert max(delays) == MAX_BACKOFF_S == 6 * 3600
    assert delays == sorted(delays)


def test_retry_after_is_honoured_but_capped() -> None:
    assert next_poll_after_failure(INTERVAL, 0.0, 1, retry_after_s=5000) == 5000
    assert next_poll_after_failure(INTERVAL, 0.0, 1, retry_after_s=10**9) == MAX_BACKOFF_S
    assert next_poll_after_success("u", INTERVAL, 0.0, retry_after_s=3000) >= 3000


def test_max_age_longer_than_the_interval_is_honoured_up_to_four_intervals() -> None:
    url = "https://example.com/feed"
    plain = next_poll_after_success(url, INTERVAL, 0.0)
    assert next_poll_after_success(url, INTERVAL, 0.0, max_age_s=60) == plain
    assert next_poll_after_success(url, INTERVAL, 0.0, max_age_s=2000) >= 2000
    assert next_poll_after_success(url, INTERVAL, 0.0, max_age_s=10**6) == 4 * INTERVAL
