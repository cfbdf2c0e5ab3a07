"""Rate-limit buckets the way Discord models them, with X-RateLimit-* headers.

Fixed windows: a bucket opens on its first request and allows ``limit`` requests
until ``per`` seconds later. Message sends are bucketed per channel (5 per 5 s by
default); everything under the API is also counted in a global 50 per second
window. Every request outside its bucket is recorded in :attr:`RateLimiter.violations`
(and answered 429 when ``enforce`` is on), so a test or bench can assert that the bot
never exceeded a bucket (:attr:`RateLimiter.overruns` counts them). Send times per channel are
kept in :attr:`RateLimiter.send_times`, the times of every rate-limited request in
:attr:`RateLimiter.request_times`: :meth:`RateLimiter.max_requests_in_window` is the stricter,
sliding reading of the global limit (Discord documents 50 per second, not where a second starts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .state import FakeClock


@dataclass
class Bucket:
    limit: int
    per: float
    window_start: float = -math.inf
    count: int = 0

    def reset_at(self) -> float:
        return self.window_start + self.per

    def roll(self, now: float) -> None:
        if now >= self.reset_at():
            self.window_start = now
            self.count = 0


@dataclass
class Violation:
    scope: str
    bucket: str
    key: str
    at: float


@dataclass
class Decision:
    """Outcome for one request: headers to send, and whether it is over a limit."""

    headers: dict[str, str] = field(default_factory=dict)
    limited: bool = False
    retry_after: float = 0.0
    is_global: bool = False


class RateLimiter:
    def __init__(
        self,
        clock: FakeClock,
        *,
        send_limit: int = 5,
        send_per: float = 5.0,
        route_limit: int = 50,
        route_per: float = 1.0,
        global_limit: int = 50,
        global_per: float = 1.0,
        enforce: bool = True,
    ) -> None:
        self.clock = clock
        self.send_limit = send_limit
        self.send_per = send_per
        self.route_limit = route_limit
        self.route_per = route_per
        self.enforce = enforce
        self._global = Bucket(global_limit, global_per)
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.violations: list[Violation] = []
        self.send_times: dict[int, list[float]] = {}
        self.max_global_in_window = 0
        self.request_times: list[float] = []

    def check(
        self, bucket_name: str, major: str, *, is_send: bool, channel_id: int | None
    ) -> Decision:
        """Count one request against the global window and its route bucket."""
        now = self.clock.monotonic()
        self.request_times.append(now)
        self._global.roll(now)
        self._global.count += 1
        self.max_global_in_window = max(self.max_global_in_window, self._global.count)
        if self._global.count > self._global.limit:
            self.violations.append(Violation("global", "global", "", now))
            if self.enforce:
                retry = max(self._global.reset_at() - now, 0.001)
                return Decision(
                    headers={"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"},
                    limited=True,
                    retry_after=retry,
                    is_global=True,
                )
        key = (bucket_name, major)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit, per = (
                (self.send_limit, self.send_per) if is_send else (self.route_limit, self.route_per)
            )
            bucket = self._buckets[key] = Bucket(limit, per)
        bucket.roll(now)
        bucket.count += 1
        reset_after = max(bucket.reset_at() - now, 0.0)
        headers = {
            "X-RateLimit-Bucket": bucket_name,
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(bucket.limit - bucket.count, 0)),
            "X-RateLimit-Reset": f"{self.clock.wall() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{math.ceil(reset_after * 1000) / 1000:.3f}",
        }
        if bucket.count > bucket.limit:
            self.violations.append(Violation("user", bucket_name, major, now))
            if self.enforce:
                headers["X-RateLimit-Scope"] = "user"
                return Decision(headers=headers, limited=True, retry_after=max(reset_after, 0.001))
        if is_send and channel_id is not None:
            self.send_times.setdefault(channel_id, []).append(now)
        return Decision(headers=headers)

    @property
    def overruns(self) -> int:
        """Requests outside a bucket (global or per route): each was, or would have been, a 429."""
        return len(self.violations)

    def max_requests_in_window(self, window: float = 1.0) -> int:
        """Most rate-limited requests (all routes) inside any sliding ``window`` seconds."""
        return _most_in_window(self.request_times, window)

    def channel_violations(self, channel_id: int | None = None) -> list[Violation]:
        """Per-channel send bucket violations (all channels when ``channel_id`` is None)."""
        return [
            v
            for v in self.violations
            if v.bucket == "message-send" and (channel_id is None or v.key == str(channel_id))
        ]

    def max_sends_in_window(self, channel_id: int, window: float = 5.0) -> int:
        """Most sends to one channel inside any sliding window of ``window`` seconds."""
        return _most_in_window(self.send_times.get(channel_id, []), window)


def _most_in_window(times: list[float], window: float) -> int:
    """Most of the (sorted) ``times`` inside any sliding ``window``."""
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
