"""Prometheus metrics on a registry of our own (not prometheus-client's global one), through
typed `Metrics` methods; the database gauges are read from the store when /metrics is scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from bot.model import DeliveryKind
from bot.store.maintenance import StoreCounts

log = logging.getLogger(__name__)

PollOutcomeKind = Literal["new_items", "no_new_items", "not_modified", "failed"]

# Buckets: a poll is a fetch + parse (+ enrich): up to the 20 s fetch timeout and beyond.
_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
_SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# The gauges read from the store on every scrape: `digestbot_<StoreCounts field>`.
_STORE_GAUGES = {
    "feeds": "Feeds in the archive",
    "feeds_failing": "Feeds whose last poll failed",
    "items": "Items in the archive",
    "deliveries_pending": "Deliveries waiting in the outbox (pending or being sent)",
}


class Metrics:
    """Every series digestbot exposes, on its own CollectorRegistry."""

    def __init__(
        self,
        gauge_source: Callable[[], Awaitable[StoreCounts]] | None = None,
        *,
        process_id: str | None = None,
        leases_source: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        """`gauge_source`: e.g. `partial(store_counts, db)`. With processes sharing a database,
        `process_id` names this one (its counters are its work), `leases_source` its leases."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._gauge_source = gauge_source
        self._leases_source = leases_source
        r = self.registry
        if process_id is not None:
            Gauge(
                "digestbot_process_info",
                "This process's id in leases (host:pid:random); the counters here are its work",
                ["process"],
                registry=r,
            ).labels(process_id).set(1)
        self._leases = Gauge(
            "digestbot_feed_leases_held",
            "Feeds this process has leased to poll now (PostgreSQL)",
            registry=r,
        )
        self._cluster_jobs = Counter(
            "digestbot_cluster_jobs_total",
            "Runs of once-per-cluster jobs: ran in this process, or skipped (another ran it)",
            ["job", "outcome"],
            registry=r,
        )
        self._store_gauges = {
            name: Gauge(f"digestbot_{name}", doc, registry=r) for name, doc in _STORE_GAUGES.items()
        }
        self._polls = Counter(
            "digestbot_polls_total", "Feed polls by outcome", ["outcome"], registry=r
        )
        self._poll_seconds = Histogram(
            "digestbot_poll_duration_seconds",
            "Time to poll one feed (fetch, parse, enrich, store)",
            buckets=_POLL_BUCKETS,
            registry=r,
        )
        self._sent = Counter(
            "digestbot_deliveries_sent_total", "Deliveries sent to Discord", ["kind"], registry=r
        )
        self._failed = Counter(
            "digestbot_deliveries_failed_total",
            "Deliveries given up on (permanent errors)",
            ["kind"],
            registry=r,
        )
        self._search = Histogram(
            "digestbot_search_latency_seconds",
            "Time to answer one archive search",
            buckets=_SEARCH_BUCKETS,
            registry=r,
        )
        self._dms = Counter("digestbot_dms_sent_total", "Topic DMs sent to members", registry=r)
        # Every label value exists from the start, so a dashboard sees 0 rather than nothing.
        for outcome in get_args(PollOutcomeKind):
            self._polls.labels(outcome)
        for kind in get_args(DeliveryKind):
            self._sent.labels(kind)
            self._failed.labels(kind)

    def observe_poll(self, outcome_kind: PollOutcomeKind, seconds: float) -> None:
        self._polls.labels(outcome_kind).inc()
        self._poll_seconds.observe(max(0.0, seconds))

    def delivery_sent(self, kind: DeliveryKind) -> None:
        self._sent.labels(kind).inc()

    def delivery_failed(self, kind: DeliveryKind) -> None:
        self._failed.labels(kind).inc()

    def search_latency(self, seconds: float) -> None:
        self._search.observe(max(0.0, seconds))

    def dm_sent(self) -> None:
        self._dms.inc()

    def cluster_job(self, job: str, ran: bool) -> None:
        self._cluster_jobs.labels(job, "ran" if ran else "skipped").inc()

    async def exposition(self) -> bytes:
        """The Prometheus text format of every series, the store gauges read first. A failed
        read keeps the last values: /metrics still answers, and /healthz reports the store."""
        if self._gauge_source is not None:
            try:
                counts = await self._gauge_source()
            except Exception:
                log.warning("metrics: reading the store gauges failed", exc_info=True)
            else:
                for name, gauge in self._store_gauges.items():
                    gauge.set(getattr(counts, name))
        if self._leases_source is not None:
            try:
                self._leases.set(await self._leases_source())
            except Exception:
                log.warning("metrics: counting the feed leases failed", exc_info=True)
        return generate_latest(self.registry)


def poll_outcome_kind(*, failed: bool, not_modified: bool, new_items: int) -> PollOutcomeKind:
    """The label of one poll's result (`bot.ingest.pipeline.PollOutcome` fields)."""
    if failed:
        return "failed"
    if not_modified:
        return "not_modified"
    return "new_items" if new_items else "no_new_items"
