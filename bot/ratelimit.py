"""The one rate limiter: at most `limit` events in any sliding `window_s`, counted per key: the
delivery budget's global pace (slots reserved ahead) and channel buckets, the AI hourly cap.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}

    def wait(self, key: Hashable = None) -> float:
        """Seconds until one more event of `key` is allowed (0: now; inf: never, limit 0)."""
        if self._limit <= 0:
            return math.inf
        events = self._events.get(key)
        if not events:
            return 0.0
        now = self._clock()
        while events and now - events[0] >= self._window_s:
            events.popleft()
        if len(events) < self._limit:
            return 0.0
        # The event that must leave the window first is the limit-th newest.
        return max(0.0, events[-self._limit] + self._window_s - now)

    def record(self, key: Hashable = None) -> None:
        self._events.setdefault(key, deque()).append(self._clock())

    def reserve(self, key: Hashable = None) -> float:
        """Count one event of `key` at the earliest moment the limit allows it, which may be
        later than now; returns the seconds until then (the caller sleeps that long). Callers
        queue on the reserved times, so a late wake-up of one does not delay the next."""
        if self._limit <= 0:
            return math.inf
        wait = self.wait(key)
        self._events.setdefault(key, deque()).append(self._clock() + wait)
        return wait

    def try_take(self, key: Hashable = None) -> bool:
        """Count one event of `key` if the limit allows it now."""
        if self.wait(key) > 0:
            return False
        self.record(key)
        return True
