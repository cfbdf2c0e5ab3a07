"""The in-process Discord budget, driven by an injected clock and sleep."""

from __future__ import annotations

import asyncio

from bot.delivery.budget import (
    LATE_S,
    MISSED_SLOTS_AT_MOST,
    DiscordLimits,
    LocalBudget,
    SharedBudget,
)
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


class StubSlots:
    """The shared budget's table, as far as `take` uses it: every slot due 10 ms from now."""

    def __init__(self) -> None:
        self.reserved = 0

    async def reserve_slot(self, bucket: str, interval_s: float) -> float:
        self.reserved += 1
        return 0.01

    async def take_target(self, target: str, burst: int, window_s: float) -> bool:
        return True


def shared(slots: StubSlots, oversleep: list[float]) -> SharedBudget:
    """A shared budget whose wake-ups come `oversleep` seconds late, one by one (then on time)."""

    async def late_sleep(seconds: float) -> None:
        await asyncio.sleep(seconds + (oversleep.pop(0) if oversleep else 0.0))

    return SharedBudget(slots, DiscordLimits(), late_sleep)  # type: ignore[arg-type]


async def test_a_shared_slot_woken_for_too_late_is_left_unused_and_another_reserved() -> None:
    """Three processes' late wake-ups would go out in one bunch with the punctual ones (the
    cause of global overruns at the fake): a request more than LATE_S after its slot waits for
    a new one."""
    slots = StubSlots()
    await shared(slots, [LATE_S + 0.15]).take(("channel", 1))
    assert slots.reserved >= 2


async def test_a_process_always_late_still_sends_after_a_few_missed_slots() -> None:
    slots = StubSlots()
    await shared(slots, [LATE_S + 0.05] * 10).take(None)
    assert slots.reserved == MISSED_SLOTS_AT_MOST + 1
