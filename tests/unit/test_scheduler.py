"""JobScheduler: the one wrapper around APScheduler's AsyncIOScheduler."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.scheduler import JobScheduler
from tests.deliveryfakes import until


async def test_jobs_run_on_the_loop_and_replace_by_name() -> None:
    scheduler = JobScheduler()
    runs: list[str] = []
    done = asyncio.Event()

    async def once() -> None:
        runs.append("once")
        done.set()

    async def tick() -> None:
        runs.append("tick")

    async def replaced() -> None:
        runs.append("replaced")

    async def broken() -> None:
        raise RuntimeError("a failing job is logged, not fatal")

    scheduler.at("once", datetime.now(UTC) - timedelta(seconds=5), once)  # past: runs now
    scheduler.every("tick", 0.05, replaced)
    scheduler.every("tick", 0.05, tick)  # same name: replaces the job above
    scheduler.at("broken", datetime.now(UTC), broken)
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
        await until(lambda: runs.count("tick") >= 2, what="two ticks")
        assert scheduler.running
        assert runs.count("once") == 1
        assert "replaced" not in runs
    finally:
        await scheduler.shutdown()
    assert not scheduler.running


async def test_shutdown_lets_a_running_job_finish_first() -> None:
    """The runtime closes the store right after the scheduler: a job still running then
    (a digest tick in its transaction) must have finished, not be cut off or left behind."""
    scheduler = JobScheduler()
    started = asyncio.Event()
    release = asyncio.Event()  # the job's own work ends when the test says so
    finished: list[bool] = []

    async def slow() -> None:
        started.set()
        await release.wait()
        finished.append(True)

    scheduler.at("slow", datetime.now(UTC), slow)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    closing = asyncio.create_task(scheduler.shutdown())
    for _ in range(20):  # let the shutdown run as far as it can while the job works
        await asyncio.sleep(0)
    assert not closing.done() and finished == []  # it waits for the running job
    release.set()
    await asyncio.wait_for(closing, timeout=5)
    assert finished == [True]
    assert not scheduler.running


async def test_shutdown_cancels_a_job_that_runs_too_long() -> None:
    scheduler = JobScheduler()
    started = asyncio.Event()
    outcome: list[str] = []

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never ends by itself
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    scheduler.at("stuck", datetime.now(UTC), stuck)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    await asyncio.wait_for(scheduler.shutdown(timeout_s=0.1), timeout=5)
    assert outcome == ["cancelled"]
