"""Which feeds are due, polled with bounded concurrency and a per-host limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from bot.ingest.pipeline import FeedPipeline, PollOutcome
from bot.model import FeedRow
from bot.store import Store, storage_problem
from bot.store.leases import new_process_id

log = logging.getLogger(__name__)

# How long a process holds a due feed it took (PostgreSQL) unless it renews the lease, which
# it does every third of it while the poll lasts (DIGESTBOT_FEED_LEASE): a dead process's
# feeds are polled again this long after it died, however long a live poll takes.
FEED_LEASE_S = 60.0
_LEASED_BATCH = 2  # feeds taken per cycle: this many times the concurrency


class FeedPoller:
    """Polls due feeds. Each feed is fetched once per poll however many channels follow it."""

    def __init__(
        self,
        store: Store,
        pipeline: FeedPipeline,
        *,
        concurrency: int = 16,
        per_host: int = 2,
        clock: Callable[[], float] = time.time,
        on_outcome: Callable[[FeedRow, PollOutcome], Awaitable[None]] | None = None,
        max_idle_s: float = 30.0,
        heartbeat: Callable[[], None] | None = None,
        holder: str | None = None,
        lease_s: float = FEED_LEASE_S,
    ) -> None:
        """`holder` names this process in the feeds it leases (processes sharing a PostgreSQL
        database; default: a new process id); a lease not renewed within `lease_s` is taken over."""
        self._store = store
        self._pipeline = pipeline
        self._slots = asyncio.Semaphore(concurrency)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._clock = clock
        self._on_outcome = on_outcome
        self._max_idle_s = max_idle_s
        self._heartbeat = heartbeat or (lambda: None)
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._holder = holder or new_process_id()
        self._lease_s = lease_s
        # Leased, a cycle takes only what it starts soon: a feed waiting for a slot keeps
        # its lease ticking, and other processes get the rest.
        self._batch = concurrency * _LEASED_BATCH if store.feeds.leased else 1000

    def wake(self) -> None:
        """Look for due feeds now (a feed was just added or rescheduled)."""
        self._wake.set()

    async def poll_due(self, *, all_feeds: bool = False) -> list[PollOutcome]:
        """Poll every due feed (or every enabled feed) once; return the outcomes."""
        if all_feeds:
            feeds = [f for f in await self._store.feeds.all() if not f.disabled]
        else:
            feeds = await self._store.feeds.take_due(
                self._clock(), self._batch, holder=self._holder, lease_s=self._lease_s
            )
        feeds = [f for f in feeds if f.id not in self._in_flight]
        keeper = asyncio.create_task(self._keep_leases()) if self._store.feeds.leased else None
        try:
            # Every poll finishes before a failure (the store could not record one) is raised.
            results = await asyncio.gather(
                *(self._poll_one(f) for f in feeds), return_exceptions=True
            )
        finally:
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        if failure := next((r for r in results if isinstance(r, BaseException)), None):
            raise failure
        return [r for r in results if not isinstance(r, BaseException)]

    async def _poll_one(self, feed: FeedRow) -> PollOutcome:
        host = urlsplit(feed.url).hostname or ""
        host_slots = self._hosts.setdefault(host, asyncio.Semaphore(self._per_host))
        self._in_flight.add(feed.id)
        try:
            async with self._slots, host_slots:
                outcome = await self._pipeline.poll(feed)
            if self._on_outcome is not None:
                try:
                    await self._on_outcome(feed, outcome)
                except Exception:
                    log.exception("feed %d: handling the poll outcome failed", feed.id)
            return outcome
        finally:
            self._in_flight.discard(feed.id)
            await self._release(feed.id)

    async def _keep_leases(self) -> None:
        """Every third of a lease, renew the leases on the feeds this process is polling or about
        to poll: another process takes a feed over only when its poller is dead, not slow."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            if not self._in_flight:
                continue
            try:
                await self._store.feeds.renew(
                    self._holder, sorted(self._in_flight), self._clock() + self._lease_s
                )
            except Exception as exc:
                log.warning("renewing feed leases failed (%s); retrying", exc)

    async def _release(self, feed_id: int) -> None:
        """End this process's lease on the feed (its poll is recorded). If that fails, the
        lease expires by itself: the feed waits longer for its next poll, nothing more."""
        try:
            await self._store.feeds.release(feed_id, self._holder)
        except Exception as exc:
            log.warning("feed %d: ending its lease failed (%s); it expires by itself", feed_id, exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll due feeds until `stop` is set; sleep until the next one is due."""
        while not stop.is_set():
            self._heartbeat()
            self._wake.clear()  # a wake() from here on (even during the cycle) is not lost
            failed = False
            try:
                await self.poll_due()
            except Exception as exc:
                failed = True
                problem = storage_problem(exc, self._store.db.path)
                if problem is None:
                    log.exception("poll cycle failed; retrying shortly")
                else:
                    log.error(
                        "poll cycle failed: %s; retrying in %.0f s", problem, self._max_idle_s
                    )
            next_at = await self._store.feeds.next_due_at(self._clock())
            # After a failure its feeds are still due: do not fetch them again at once.
            delay = self._max_idle_s if failed or next_at is None else next_at - self._clock()
            delay = min(max(delay, 0.05), self._max_idle_s)
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
