"""When a feed is polled next: a stable slot per feed, backoff on errors, server hints."""

from __future__ import annotations

import hashlib
import math

MAX_BACKOFF_S = 6 * 3600.0


def slot_offset(url: str, interval_s: float) -> float:
    """A stable offset in [0, interval) from the URL's hash, so polls spread evenly."""
    digest = int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big")
    return (digest / 2**64) * interval_s


def next_slot(url: str, interval_s: float, now: float) -> float:
    """The first time after `now` that falls on the feed's slot of its interval."""
    offset = slot_offset(url, interval_s)
    cycles = math.floor((now - offset) / interval_s) + 1
    return offset + cycles * interval_s


def next_poll_after_success(
    url: str,
    interval_s: float,
    now: float,
    *,
    max_age_s: float | None = None,
    retry_after_s: float | None = None,
) -> float:
    """Normal cadence; a Cache-Control max-age longer than the interval is honoured up to 4×."""
    at = next_slot(url, interval_s, now)
    if max_age_s and max_age_s > interval_s:
        at = max(at, now + min(max_age_s, interval_s * 4))
    if retry_after_s:
        at = max(at, now + min(retry_after_s, MAX_BACKOFF_S))
    return at


def next_poll_after_failure(
    interval_s: float, now: float, consecutive_errors: int, *, retry_after_s: float | None = None
) -> float:
    """Exponential backoff from the interval, capped at 6 h; Retry-After wins when longer."""
    exponent = min(max(consecutive_errors - 1, 0), 20)
    delay = min(interval_s * float(2**exponent), max(MAX_BACKOFF_S, interval_s))
    if retry_after_s:
        delay = max(delay, min(retry_after_s, MAX_BACKOFF_S))
    return now + delay
