"""The one place that knows APScheduler (3.x): named jobs that run coroutines on the loop.

A job given a `lock` name runs once per cluster: when several processes share one database,
each schedules it, and at each run time the one that gets the lock runs it while the others
skip that run (the jobs are idempotent: a digest tick or a prune finds nothing left to do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]  # what a job returns is dropped
# lock name → a block that says whether this process holds it (bot.store.leases.ClusterLocks).
Gate = Callable[[str], AbstractAsyncContextManager[bool]]


class JobScheduler:
    """Named jobs (adding a name again replaces the job). Times are UTC."""

    def __init__(
        self, gate: Gate | None = None, on_gated: Callable[[str, bool], None] | None = None
    ) -> None:
        """`gate` runs the jobs given a lock once per cluster (None: always here);
        `on_gated(lock, ran)` is told whether each run of such a job ran here or was skipped."""
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[object]] = set()  # jobs being run right now
        self._gate = gate
        self._on_gated = on_gated or (lambda lock, ran: None)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop: no job starts any more, and the jobs running now finish (for up to
        `timeout_s`, then they are cancelled) before this returns, so what they use (the
        store) can be closed after it. AsyncIOScheduler acts on the next loop iteration."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        await asyncio.sleep(0)
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout_s)
        self._scheduler.shutdown(wait=False)  # cancels the jobs still running
        await asyncio.sleep(0)
        if self._running:
            await asyncio.wait(set(self._running))

    def every(self, name: str, seconds: float, job: Job, *, lock: str | None = None) -> None:
        """Run `job` every `seconds` (never two runs of it at once; missed runs coalesce);
        with `lock`, in one process of the cluster at a time."""
        trigger = IntervalTrigger(seconds=seconds, timezone="UTC")
        self._add(name, job, lock, trigger, coalesce=True, max_instances=1)

    def at(self, name: str, when: datetime, job: Job, *, lock: str | None = None) -> None:
        """Run `job` once at `when` (aware datetime); a time in the past runs it now; with
        `lock`, unless another process of the cluster is running it."""
        self._add(name, job, lock, DateTrigger(run_date=when, timezone="UTC"))

    def _add(
        self, name: str, job: Job, lock: str | None, trigger: BaseTrigger, **options: Any
    ) -> None:
        """Schedule `job` as `name` (replacing the job of that name; a late run still runs),
        run only while this process holds `lock` (when there is a gate), its failure logged
        and its run known to `shutdown`."""

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                if self._gate is None or lock is None:
                    await job()
                    return
                async with self._gate(lock) as mine:
                    self._on_gated(lock, mine)
                    if mine:
                        await job()
            except Exception:
                log.exception("scheduled job %s failed", name)
            finally:
                if task is not None:
                    self._running.discard(task)

        self._scheduler.add_job(
            run,
            trigger,
            id=name,
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
            **options,
        )
