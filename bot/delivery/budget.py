"""Discord's request budget as the outbox spends it: the bot's global requests per second (50)
and each target's message bucket (5 per 5 s per channel or DM); outside either Discord answers
429. discord.py learns each route's bucket from the headers and sleeps through a 429, but it
does not pace the global limit, and a request it holds keeps an outbox worker waiting. So the
outbox asks first: `hold` says which targets have room (the others are skipped, not waited on),
`take` waits for the next global slot. discord.py's limiter stays behind it as the last guard
(should Discord announce another bucket size, discord.py follows the headers).

`LocalBudget` serves one process. Processes sharing one bot token must share one budget or they
overrun the global limit together: `SharedBudget` keeps it in their PostgreSQL database.

Every request counts, not only sends: `request_trace` hooks the bot's HTTP session, so look-ups
(a guild, the bot's member, a channel, a DM to open) and discord.py's own retries after a 429
wait for a global slot too (uncounted look-ups once took three processes 2.5 times over the
global limit). The slot `take` reserved is spent by its task's next request (`spend`), so a
send is not counted twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Protocol

import aiohttp

from bot.model import TargetKind
from bot.ratelimit import SlidingWindow
from bot.store.budget import BudgetStore

Target = tuple[TargetKind, int]

# Discord allows 50/s; the rest is left to the jitter between our clock and Discord's windows
# (every request of the bot's client takes a slot of this pace, see `request_trace`;
# interaction answers are not bound to the global limit and take none).
REQUESTS_PER_S = 47.0
# The shared budget counts a send when its process takes the slot, a moment before the request
# reaches Discord that varies with each process's load, so its target windows are this much
# longer: 0.3 s still let a sixth post into one channel's 5 s in about one of five runs of the
# three-process test on a loaded 2-core machine; 1 s costs a channel 5 posts per 6 s, not 5.3 s.
ARRIVAL_MARGIN_S = 1.0


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
        `target`'s bucket if given (then first waiting for it to have room). The next request
        this task makes spends that slot (`spend`)."""
        ...

    async def sent(self, target: Target) -> None:
        """The request `take(target)` counted has had its answer (or failed): it reached
        Discord by now, so a budget that counts it at `take` may count it from now instead."""
        ...


@dataclass(slots=True)
class _Prepaid:
    """A global slot `take` reserved for the request its task makes next: when it was due (this
    process's monotonic clock)."""

    at: float
    spent: bool = False


_PREPAID: ContextVar[_Prepaid | None] = ContextVar("digestbot_prepaid_slot", default=None)
#: The longest a request may go out after its global slot. Slots are 1/rate apart, so a
#: sliding second then holds the requests of at most 1 + LATE_S seconds of slots: at 47/s,
#: 50. A request later than that (a busy event loop, a slow round trip to the shared budget)
#: does not spend its slot, it waits for another: the late ones of several processes would
#: otherwise go out in one bunch with the punctual ones and overrun Discord's 50/s.
LATE_S = 0.05
#: How often a process forgets the targets whose bucket emptied (the shared budget's rows).
PRUNE_EVERY_S = 60.0
#: How many slots in a row a request lets pass for being late before it goes anyway: a
#: process whose event loop lags that much all the time must still send.
MISSED_SLOTS_AT_MOST = 3


async def spend(budget: RequestBudget) -> None:
    """Before one REST request goes out: spend the slot this task's last `take` reserved for
    it (if it was due a moment ago and no other request spent it), else wait for a slot."""
    prepaid = _PREPAID.get()
    if prepaid is not None and not prepaid.spent:
        prepaid.spent = True
        if time.monotonic() - prepaid.at <= LATE_S:
            return
    await budget.take(None)
    spent = _PREPAID.get()
    if spent is not None:
        spent.spent = True


def request_trace(budget: RequestBudget) -> aiohttp.TraceConfig:
    """An aiohttp trace for the bot's client (`discord.Client(http_trace=...)`): each request
    it sends, each retry included, first waits for its global slot from `budget`."""

    async def on_request_start(
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        # Every request made with the bot's token counts, except interaction answers
        # (Discord does not bind those to the global limit).
        authorization = params.headers.get("Authorization") or ""
        if authorization.startswith("Bot ") and "/interactions/" not in str(params.url):
            await spend(budget)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace


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

    async def sent(self, target: Target) -> None:
        """Nothing: in one process the moment of `take` and the request's departure are one
        event loop's turn apart."""

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
                _PREPAID.set(_Prepaid(time.monotonic()))
                return


class SharedBudget:
    """The budget of every process sharing one PostgreSQL database (bot.store.budget): the
    global pace as slots reserved in turn by all of them, each target's sliding window counted
    when its request is taken (and again from its answer, `sent`). A slot this process wakes up
    for too late (`LATE_S`) is left unused and another reserved. Two round trips per send, one
    per other request; see bench/budget_pg.py."""

    def __init__(
        self,
        store: BudgetStore,
        limits: DiscordLimits = DiscordLimits(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._limits = limits
        self._window_s = limits.target_window_s + ARRIVAL_MARGIN_S
        self._sleep = sleep
        self._pruned_at = time.monotonic()

    @staticmethod
    def _key(target: Target) -> str:
        return f"{target[0]}:{target[1]}"

    async def hold(self, target: Target) -> float:
        return await self._store.target_hold(
            self._key(target), self._limits.target_burst, self._window_s
        )

    async def sent(self, target: Target) -> None:
        # Counted at `take`, the send may have travelled for longer than ARRIVAL_MARGIN_S (a
        # busy process): from its answer on, the window counts it from now, which is after
        # it reached Discord. A channel's next post is taken after this one's answer (one
        # process sends a target's posts, in turn), so its window never counts early.
        await self._store.restamp_newest(self._key(target))
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
            # Else a row per channel and DM ever posted to stays for good.
            self._pruned_at = time.monotonic()
            await self._store.prune_targets(self._window_s)

    async def take(self, target: Target | None) -> None:
        limits = self._limits
        if target is not None:
            # The target first: its count waits at most for the global slot below, and is
            # moved to the answer's moment by `sent`.
            key = self._key(target)
            while not await self._store.take_target(key, limits.target_burst, self._window_s):
                # Another process filled the target's bucket meanwhile: wait for room.
                held = await self._store.target_hold(key, limits.target_burst, self._window_s)
                await self._sleep(max(held, 0.01))
        for attempt in range(1, MISSED_SLOTS_AT_MOST + 2):
            # When the slot is due, as this process's clock has it: measured from before the
            # round trip, so early rather than late (a late wake-up is never taken for on time).
            asked_at = time.monotonic()
            wait = await self._store.reserve_slot("global", 1.0 / limits.requests_per_s)
            due = asked_at + wait
            if wait > 0:
                await self._sleep(wait)
            if time.monotonic() - due <= LATE_S or attempt > MISSED_SLOTS_AT_MOST:
                _PREPAID.set(_Prepaid(due))
                return
