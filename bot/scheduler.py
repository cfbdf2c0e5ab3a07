"""The one place that knows APScheduler (3.x): named jobs that run coroutines on the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]  # what a job returns is dropped


class JobScheduler:
    """Named jobs (adding a name again replaces the job). Times are UTC."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[object]] = set()  # jobs being run right now

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

    def every(
        self, name: str, seconds: float, job: Job, *, first_at: datetime | None = None
    ) -> None:
        """Run `job` every `seconds` (never two runs of it at once; missed runs coalesce)."""
        self._scheduler.add_job(
            self._logged(name, job),
            IntervalTrigger(seconds=seconds, start_date=first_at, timezone="UTC"),
            id=name,
            name=name,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def at(self, name: str, when: datetime, job: Job) -> None:
        """Run `job` once at `when` (aware datetime); a time in the past runs it now."""
        self._scheduler.add_job(
            self._logged(name, job),
            DateTrigger(run_date=when, timezone="UTC"),
            id=name,
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _logged(self, name: str, job: Job) -> Callable[[], Awaitable[None]]:
        """`job`, with its failure logged and its run known to `shutdown`."""

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job()
            except Exception:
                log.exception("scheduled job %s failed", name)
            finally:
                if task is not None:
                    self._running.discard(task)

        return run
