"""Everything the bot runs, with or without Discord: store, fetcher, poller, outbox, jobs.

Closed in this order: health endpoint, scheduler (its running job finishes), outbox (its send
in flight finishes), poller, then fetcher and store. Recurring jobs (digests, retention) run
on the one JobScheduler; the poller and the outbox are event-driven loops (woken by new work).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.delivery.budget import DiscordLimits, LocalBudget, RequestBudget, SharedBudget
from bot.delivery.compose import DeliveryComposer
from bot.delivery.outbox import Outbox, OutboxClock, OutboxHooks, OutboxSettings
from bot.delivery.senders import Sender
from bot.features.digest.service import DIGEST_TICK_S, DigestService
from bot.features.feeds.filters import check_filters
from bot.features.feeds.service import FeedService
from bot.features.feeds.subscriptions import SubscriptionService
from bot.features.follow.service import FollowService
from bot.features.posts.language import Languages
from bot.features.related.service import RelatedService
from bot.features.search.service import SearchService
from bot.features.why.service import WhyService
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline, PollOutcome
from bot.ingest.poller import FeedPoller
from bot.model import DeliveryKind, FeedRow
from bot.ops.backup import RETENTION_EVERY_S, prune_expired
from bot.ops.health import (
    HealthServer,
    Heartbeat,
    gateway_check,
    loop_alive_check,
    store_writable_check,
)
from bot.ops.metrics import Metrics, poll_outcome_kind
from bot.scheduler import JobScheduler
from bot.store import Store, StoreError
from bot.store.leases import new_process_id
from bot.store.maintenance import store_counts
from bot.text.llm import LLMSummarizer

log = logging.getLogger(__name__)

POLLER_IDLE_S = 30.0  # the poller looks for due feeds at least this often
OUTBOX_IDLE_S = 30.0  # the outbox's longest sleep (Outbox's idle_s default)
TOPICS_REFRESH_S = 2.0  # how soon a follow made in another process reaches this matcher


class Runtime:
    """The services and background loops of one bot process."""

    def __init__(
        self, settings: Settings, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.process_id = new_process_id()  # names this process in leases and /metrics
        self.fetcher = FeedFetcher(settings)
        self.ai_summarizer = (
            LLMSummarizer(settings) if settings.llm_base_url and settings.llm_model else None
        )
        self.pipeline = FeedPipeline(
            store,
            self.fetcher,
            clock=clock,
            ai_summarizer=self.ai_summarizer,
            filter_gate=check_filters,
        )
        self.feeds = FeedService(
            store,
            self.fetcher,
            self.pipeline,
            settings,
            clock=clock,
            on_feed_added=lambda: self.poller.wake(),
        )
        self.metrics = Metrics(
            functools.partial(store_counts, store.db),
            process_id=self.process_id,
            leases_source=functools.partial(store.feeds.leases_held, self.process_id),
        )
        self.follows = FollowService(store, clock=clock)
        self.digests = DigestService(
            store, clock=clock, wake_outbox=self._wake_outbox, filter_gate=check_filters
        )
        self.search = SearchService(store, clock=clock, on_latency=self.metrics.search_latency)
        self.why = WhyService(store, clock=clock)
        self.languages = Languages(store, default=settings.locale, clock=clock)
        self.related = RelatedService(store, self.why)
        self.subscriptions = SubscriptionService(
            store,
            self.feeds,
            self.search,
            self.digests,
            wake_outbox=self._wake_outbox,
            clock=clock,
        )
        self.poll_heartbeat = Heartbeat()
        self.outbox_heartbeat = Heartbeat()
        self.poller = FeedPoller(
            store,
            self.pipeline,
            concurrency=settings.poll_concurrency,
            per_host=settings.poll_per_host,
            clock=clock,
            on_outcome=self._on_poll_outcome,
            # Never sleep longer than one poll interval: a feed added meanwhile (its first
            # poll one interval away) would otherwise wait for the 30 s idle look.
            max_idle_s=min(POLLER_IDLE_S, max(settings.poll_interval_s, 0.05)),
            heartbeat=self.poll_heartbeat.tick,
            holder=self.process_id,
            lease_s=settings.feed_lease_s,
        )
        # Set by the Discord app; None in console mode (no gateway to be connected to).
        self.gateway_connected: Callable[[], bool] | None = None
        self.health: HealthServer | None = None
        self.scheduler = JobScheduler(store.locks.exclusive, self.metrics.cluster_job)
        self.outbox: Outbox | None = None
        # Discord's budget: spent by the outbox and by every request of the bot's client
        # (bot.delivery.budget.request_trace); shared by all processes on PostgreSQL.
        self.budget: RequestBudget = (
            SharedBudget(store.budget)
            if store.shared
            else LocalBudget(DiscordLimits(), time.monotonic)
        )
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        """Open the store named by the settings. A database that cannot be opened (a
        directory, no permission, not SQLite) is a configuration error: StoreError."""
        try:
            store = await Store.open(settings.database)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"configuration error: DIGESTBOT_DB: cannot open {settings.db_path}: {exc}"
            ) from exc
        return cls(settings, store)

    def _wake_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.wake()

    def attach_sender(self, sender: Sender) -> Outbox:
        """Create the outbox for this process's way of delivering (Discord or the terminal)."""
        self.languages.guild_locale = sender.guild_locale
        self.outbox = Outbox(
            self.store,
            sender,
            DeliveryComposer(self.store, self.digests, sender.guild_name, self.languages),
            settings=OutboxSettings(lease_s=self.settings.delivery_lease_s),
            clock=OutboxClock(wall=self.clock),
            budget=self.budget,
            hooks=OutboxHooks(
                on_user_unreachable=self.follows.on_dms_closed,
                on_result=self._on_delivery_result,
                heartbeat=self.outbox_heartbeat.tick,
            ),
        )
        return self.outbox

    async def _on_poll_outcome(self, feed: FeedRow, outcome: PollOutcome) -> None:
        kind = poll_outcome_kind(
            failed=outcome.error is not None,
            not_modified=outcome.not_modified,
            new_items=len(outcome.new_item_ids),
        )
        self.metrics.observe_poll(kind, outcome.seconds)
        await self.subscriptions.on_poll_outcome(feed, outcome)

    def _on_delivery_result(self, kind: DeliveryKind, sent: bool) -> None:
        if sent:
            self.metrics.delivery_sent(kind)
            if kind == "dm":
                self.metrics.dm_sent()
        else:
            self.metrics.delivery_failed(kind)

    async def start_health(self) -> None:
        """The /healthz and /metrics endpoint on 127.0.0.1, when DIGESTBOT_HEALTH_PORT is set."""
        port = self.settings.health_port
        if port is None:
            return
        checks = {
            "store": store_writable_check(self.store.db),
            "poller": loop_alive_check("poller", self.poll_heartbeat, 4 * POLLER_IDLE_S),
            "gateway": gateway_check(self.gateway_connected),
        }
        if self.outbox is not None:
            checks["outbox"] = loop_alive_check("outbox", self.outbox_heartbeat, 4 * OUTBOX_IDLE_S)
        self.health = HealthServer(port=port, checks=checks, metrics=self.metrics)
        await self.health.start()
        log.info("health and metrics on %s", self.health.url)

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def start(self) -> None:
        """Start the background loops: poller, outbox (if a sender is attached), jobs. Due
        digests are queued once now (one missed while the bot was down), then every tick."""
        await self.start_follows()
        # Digest ticks and retention run in one process of the cluster at a time.
        digests = self.digests.run_due
        self.scheduler.at("digests:catch-up", datetime.now(UTC), digests, lock="digests")
        self.scheduler.every("digests:tick", DIGEST_TICK_S, digests, lock="digests")
        self.scheduler.every("topics:refresh", TOPICS_REFRESH_S, self.follows.refresh)
        if self.outbox is not None:
            self._spawn("outbox", self.outbox.run(self.stop))
        self._spawn("poller", self.poller.run(self.stop))
        if (days := self.settings.retention_days) is not None:

            async def prune() -> None:
                await prune_expired(self.store.db, days, self.clock())

            self.scheduler.at("retention:start", datetime.now(UTC), prune, lock="retention")
            self.scheduler.every("retention", RETENTION_EVERY_S, prune, lock="retention")
        self.scheduler.start()
        await self.start_health()

    async def start_follows(self) -> None:
        """Before the poller runs: build the percolator from the stored topics and let the
        pipeline match new items against it."""
        await self.follows.load()
        self.pipeline.topic_matcher = self.follows.match

    async def close(self) -> None:
        """Stop the loops (scheduler, then outbox, then poller: each finishes what it is doing,
        for up to 5 s) and close fetcher and store."""
        if self._closed:
            return
        self._closed = True
        self.stop.set()
        if self.health is not None:
            await self.health.stop()
        await self.scheduler.shutdown()
        for task in self._tasks:  # in start order: outbox, poller
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            except Exception:
                log.exception("%s stopped with an error", task.get_name())
        await self.fetcher.close()
        if self.ai_summarizer is not None:
            await self.ai_summarizer.aclose()
        await self.store.close()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s loop crashed", task.get_name(), exc_info=task.exception())
