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

Job = Callable[[], Awaitable[None]]


class JobScheduler:
    """Named jobs (adding a name again replaces the job). Times are UTC."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    async def shutdown(self) -> None:
        """Stop; no job starts after this returns (AsyncIOScheduler stops on the next loop
        iteration, so one is awaited)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)

    def every(
        self, name: str, seconds: float, job: Job, *, first_at: datetime | None = None
    ) -> None:
        """Run `job` every `seconds` (never two runs of it at once; missed runs coalesce)."""
        self._scheduler.add_job(
            _logged(name, job),
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
            _logged(name, job),
            DateTrigger(run_date=when, timezone="UTC"),
            id=name,
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def cancel(self, name: str) -> bool:
        if self._scheduler.get_job(name) is None:
            return False
        self._scheduler.remove_job(name)
        return True

    def job_names(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())


def _logged(name: str, job: Job) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %s failed", name)

    return run
