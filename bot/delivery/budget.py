"""Discord's request budget, as the outbox spends it: the bot's global requests per second and
each target's message bucket.

Discord allows a bot 50 requests/s in all (the global limit) and, for sending messages, 5 per
5 s per channel (a DM is a channel too); a request outside either is answered 429. discord.py's
HTTPClient already learns each route's bucket from the X-RateLimit-* headers and holds a request
until its bucket resets, and it sleeps through a 429 and retries; but it does not pace the global
limit before a 429, and a request it holds keeps one of the outbox's workers waiting. So the
outbox asks the budget first: `hold` says which targets have room (the others are skipped, not
waited on), `take` waits for the next global slot. discord.py's own limiter stays in place
behind it as the last guard: should Discord announce another bucket size than the 5 per 5 s
expected here, discord.py follows the headers and holds the extra requests itself.

`RequestBudget` is the interface; `LocalBudget` is the in-process implementation, right for one
process. Several processes sharing one bot token must share one budget (a later implementation
backed by PostgreSQL, issue 18) or they overrun the global limit together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.model import TargetKind
from bot.ratelimit import SlidingWindow

Target = tuple[TargetKind, int]

# Discord allows 50/s; the rest is left to the requests the bot makes outside the outbox
# (look-ups, opening DM channels; interaction answers are not bound to the global limit) and to
# the jitter between our clock and Discord's windows.
REQUESTS_PER_S = 47.0


@dataclass(frozen=True, slots=True)
class DiscordLimits:
    requests_per_s: float = REQUESTS_PER_S
    target_burst: int = 5  # posts to one channel or DM per window
    target_window_s: float = 5.0


class RequestBudget(Protocol):
    """The bot's Discord request budget, shared by everything that sends through it."""

    async def hold(self, target: Target) -> float:
        """Seconds until `target`'s bucket has room for one more post (0: now)."""
        ...

    async def take(self, target: Target | None) -> None:
        """Wait for the bot's next global request slot and count one request, also against
        `target`'s bucket if given (then first waiting for it to have room)."""
        ...


class LocalBudget:
    """The budget of one process: a global pace of one request per 1/rate s (slots reserved in
    turn, so a late wake-up does not slow the pace down), no more than `rate` requests going out
    in any sliding second (the wake-ups of a busy event loop come in bunches: without this, a
    bunch of late slots would go out together), and a sliding window per target."""

    def __init__(
        self,
        limits: DiscordLimits,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._global = SlidingWindow(1, 1.0 / limits.requests_per_s, monotonic)
        self._second = SlidingWindow(max(1, int(limits.requests_per_s)), 1.0, monotonic)
        self._targets = SlidingWindow(limits.target_burst, limits.target_window_s, monotonic)
        self._sleep = sleep

    async def hold(self, target: Target) -> float:
        return self._targets.wait(target)

    async def take(self, target: Target | None) -> None:
        while True:
            if target is not None:
                held = self._targets.wait(target)
                if held > 0:
                    await self._sleep(held)
                    continue
            wait = self._global.reserve()
            if wait > 0:
                await self._sleep(wait)
            while (late := self._second.wait()) > 0:
                await self._sleep(late)
            self._second.record()
            # Counted against the target when the request goes out, not when it began to wait.
            if target is None or self._targets.try_take(target):
                return
