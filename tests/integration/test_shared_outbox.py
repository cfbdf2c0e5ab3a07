"""Processes sharing one PostgreSQL database: each delivery is claimed by one process under a
lease (a restarting process leaves the others' sends alone; a dead process's are taken over
once its lease expires), and they spend one Discord budget between them. Each `Store` here
is its own pool of connections, as a process's would be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.delivery import budget as budget_module
from bot.delivery.budget import DiscordLimits, SharedBudget
from bot.store import Store
from bot.store.db import fetch_all
from tests.deliveryfakes import (
    FakeTime,
    RecordingSender,
    add_polled_feed,
    make_outbox,
    poll_items,
    until,
)

GUILD = 111_111_111_111_111_111
CH_A = 900_000_000_000_000_001
ADMIN = 555_555_555_555_555_555
LEASE_S = 30.0


@pytest_asyncio.fixture
async def stores(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first, second = await Store.open(pg_url), await Store.open(pg_url)
    yield first, second
    await first.close()
    await second.close()


async def test_a_starting_process_leaves_a_live_send_alone_and_takes_over_a_dead_one(
    stores: tuple[Store, Store],
) -> None:
    mine, theirs = stores
    time_ = FakeTime()
    feed = await add_polled_feed(mine, "https://a.example/feed")
    await mine.subscriptions.add(GUILD, CH_A, feed, added_by=ADMIN, now=1)
    await poll_items(mine, feed, ["a-2", "a-1"], now=time_.now)  # newest first
    first, _second = await mine.deliveries.for_target("channel", CH_A)
    # Another process is sending the channel's first post right now.
    assert await theirs.deliveries.mark_sending(
        first.id, time_.now, owner="other:1", lease_s=LEASE_S
    )

    sender = RecordingSender()
    worker = make_outbox(
        mine, sender, clock=time_.clock, monotonic=time_.monotonic, sleep=time_.sleep
    )
    assert await worker.drain() == 0  # its recovery at start took nothing over
    assert sender.attempts == [] and sender.lookups == []
    assert (await mine.deliveries.get(first.id)).state == "sending"  # type: ignore[union-attr]

    # That process dies: once its lease has expired, this one takes the post over, looks
    # for it in the channel first, and sends the channel's posts in order.
    time_.advance(LEASE_S + 1)
    assert await mine.deliveries.take_over_expired(time_.now) == 1
    assert await worker.drain() == 2
    assert sender.lookups == [first.id]
    assert sender.titles_for(CH_A) == ["Post a-1", "Post a-2"]


async def test_a_stale_read_cannot_claim_a_post_behind_one_being_sent(
    stores: tuple[Store, Store],
) -> None:
    mine, theirs = stores
    time_ = FakeTime()
    feed = await add_polled_feed(mine, "https://a.example/feed")
    await mine.subscriptions.add(GUILD, CH_A, feed, added_by=ADMIN, now=1)
    await poll_items(mine, feed, ["a-2", "a-1"], now=time_.now)  # newest first
    first, second = await mine.deliveries.for_target("channel", CH_A)
    assert await theirs.deliveries.mark_sending(first.id, time_.now, owner="other:1")
    assert not await mine.deliveries.mark_sending(second.id, time_.now, owner="me:1")


async def _take_all(
    budgets: list[SharedBudget], per_budget: int, target: tuple[str, int] | None
) -> float:
    """Take `per_budget` requests through each budget at once; the seconds it took."""

    async def run(budget: SharedBudget) -> None:
        for _ in range(per_budget):
            await budget.take(target)  # type: ignore[arg-type]

    started = time.monotonic()
    await asyncio.gather(*(run(b) for b in budgets))
    return time.monotonic() - started


async def test_processes_share_the_global_pace(stores: tuple[Store, Store]) -> None:
    limits = DiscordLimits(requests_per_s=20.0)
    budgets = [SharedBudget(s.budget, limits) for s in stores]
    # 40 requests at 20/s in all: the last slot is 39/20 s after the first (two processes
    # pacing on their own would be done in half that).
    assert await _take_all(budgets, 20, None) >= 39 / 20


async def test_processes_share_each_target_bucket(stores: tuple[Store, Store]) -> None:
    limits = DiscordLimits(requests_per_s=1000.0, target_burst=2, target_window_s=0.5)
    budgets = [SharedBudget(s.budget, limits) for s in stores]
    target = ("channel", CH_A)
    # 8 sends, at most 2 in any half second: the 7th goes at least 1.5 s after the 1st.
    assert await _take_all(budgets, 4, target) >= 1.5
    assert await budgets[0].hold(target) > 0  # its bucket is full now
    assert await budgets[0].hold(("channel", CH_A + 1)) == 0


async def test_a_target_whose_bucket_emptied_is_forgotten(
    stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared budget kept a row for every channel and DM ever posted to."""
    mine, theirs = stores
    limits = DiscordLimits(requests_per_s=1000.0, target_window_s=0.0)  # windows of 1 s
    quiet, busy = ("channel", CH_A), ("channel", CH_A + 1)
    await SharedBudget(theirs.budget, limits).take(quiet)
    budget = SharedBudget(mine.budget, limits)
    monkeypatch.setattr(budget_module, "PRUNE_EVERY_S", 0.0)

    async def quiet_forgotten() -> bool:
        await budget.take(busy)
        await budget.sent(busy)  # prunes, every time here
        rows = await fetch_all(mine.db.reader, str, "SELECT target FROM discord_target_sends")
        return rows == [f"channel:{busy[1]}"]

    await until(quiet_forgotten, timeout=30, what="the quiet channel's row forgotten")
