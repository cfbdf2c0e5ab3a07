"""JobScheduler: the one wrapper around APScheduler's AsyncIOScheduler."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.scheduler import JobScheduler


async def test_jobs_run_on_the_loop_replace_by_name_and_cancel() -> None:
    scheduler = JobScheduler()
    runs: list[str] = []
    done = asyncio.Event()

    async def once() -> None:
        runs.append("once")
        done.set()

    async def tick() -> None:
        runs.append("tick")

    async def broken() -> None:
        raise RuntimeError("a failing job is logged, not fatal")

    scheduler.at("once", datetime.now(UTC) - timedelta(seconds=5), once)  # past: runs now
    scheduler.every("tick", 0.05, tick)
    scheduler.every("tick", 0.05, tick)  # same name: replaced, not doubled
    scheduler.at("broken", datetime.now(UTC), broken)
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
        await asyncio.sleep(0.3)
        assert scheduler.running
        assert "tick" in scheduler.job_names()
        assert runs.count("once") == 1 and runs.count("tick") >= 2
        assert scheduler.cancel("tick") and not scheduler.cancel("tick")
        ticks = runs.count("tick")
        await asyncio.sleep(0.2)
        assert runs.count("tick") == ticks
    finally:
        await scheduler.shutdown()
    assert not scheduler.running
