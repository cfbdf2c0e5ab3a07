"""The in-process Discord budget, driven by an injected clock and sleep."""

from __future__ import annotations

import asyncio

from bot.delivery.budget import DiscordLimits, LocalBudget
from tests.deliveryfakes import until


async def test_late_wake_ups_do_not_send_more_than_the_rate_in_one_second() -> None:
    """60 requests queue for slots; the event loop is busy and every sleeper wakes late, all
    together (here: the clock does not move while they sleep). Only 47 go out in that second;
    the rest wait for the second to pass instead of going out in the same bunch."""
    now = 0.0

    async def late_sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # wakes on the next turn of the loop, whatever was asked

    budget = LocalBudget(DiscordLimits(requests_per_s=47.0), lambda: now, late_sleep)
    sent: list[float] = []

    async def request() -> None:
        await budget.take(None)
        sent.append(now)

    tasks = [asyncio.create_task(request()) for _ in range(60)]
    try:
        await until(lambda: len(sent) >= 47, what="the first 47 requests")
        for _ in range(200):  # many turns of the loop, with the clock standing still
            await asyncio.sleep(0)
        assert len(sent) == 47
        now = 1.0
        await until(lambda: len(sent) == 60, what="the rest, a second later")
        assert sent.count(0.0) == 47
    finally:
        for task in tasks:
            task.cancel()
