"""Everything the bot runs, with or without Discord: store, fetcher, poller, outbox, jobs.

Started in this order and closed in reverse: store → fetcher → scheduler → outbox → poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot.config import Settings
from bot.deliver.outbox import Outbox
from bot.deliver.senders import Sender
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.ingest.poller import FeedPoller
from bot.scheduler import JobScheduler
from bot.services.feeds import FeedService
from bot.services.subscriptions import SubscriptionService
from bot.store import Store

log = logging.getLogger(__name__)


class Runtime:
    """The services and background loops of one bot process."""

    def __init__(
        self, settings: Settings, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.fetcher = FeedFetcher(settings)
        self.pipeline = FeedPipeline(store, self.fetcher, clock=clock)
        self.feeds = FeedService(store, self.fetcher, self.pipeline, settings, clock=clock)
        self.subscriptions = SubscriptionService(
            store, self.feeds, wake_outbox=self._wake_outbox, clock=clock
        )
        self.poller = FeedPoller(
            store,
            self.pipeline,
            concurrency=settings.poll_concurrency,
            per_host=settings.poll_per_host,
            clock=clock,
            on_outcome=self.subscriptions.on_poll_outcome,
            max_idle_s=min(30.0, max(settings.poll_interval_s, 0.05)),
        )
        self.scheduler = JobScheduler()
        self.outbox: Outbox | None = None
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        return cls(settings, await Store.open(settings.db_path))

    def _wake_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.wake()

    def attach_sender(self, sender: Sender) -> Outbox:
        """Create the outbox for this process's way of delivering (Discord or the terminal)."""
        self.outbox = Outbox(self.store, sender, clock=self.clock)
        return self.outbox

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def start(self) -> None:
        """Start the background loops: poller, outbox (if a sender is attached), jobs."""
        if self.outbox is not None:
            self._spawn("outbox", self.outbox.run(self.stop))
        self._spawn("poller", self.poller.run(self.stop))
        self.scheduler.start()

    def loops_alive(self) -> bool:
        return bool(self._tasks) and all(not t.done() for t in self._tasks)

    async def close(self) -> None:
        """Stop the loops (scheduler, then outbox, then poller) and close fetcher and store."""
        if self._closed:
            return
        self._closed = True
        self.stop.set()
        self.scheduler.shutdown()
        for task in reversed(self._tasks):
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            except Exception:
                log.exception("%s stopped with an error", task.get_name())
        await self.fetcher.close()
        await self.store.close()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s loop crashed", task.get_name(), exc_info=task.exception())
