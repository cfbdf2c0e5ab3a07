"""Prometheus metrics on a registry of our own (not prometheus-client's global one).

The rest of the code calls the typed `Metrics` methods; gauges that describe the database
(feeds, failing feeds, items, pending deliveries) are read from the store when /metrics is
scraped, through the `refresh` callback the app provides.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from bot.model import DeliveryKind
from bot.store.maintenance import StoreCounts

log = logging.getLogger(__name__)

PollOutcomeKind = Literal["new_items", "no_new_items", "not_modified", "failed"]

POLL_OUTCOMES: Final = get_args(PollOutcomeKind)
DELIVERY_KINDS: Final = get_args(DeliveryKind)
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Buckets: a poll is a fetch + parse (+ enrich): up to the 20 s fetch timeout and beyond.
_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
_SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


GaugeSource = Callable[[], Awaitable[StoreCounts]]


class Metrics:
    """Every series digestbot exposes, on its own CollectorRegistry."""

    def __init__(self, gauge_source: GaugeSource | None = None) -> None:
        """`gauge_source`: e.g. `functools.partial(bot.store.maintenance.store_counts, db)`."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._gauge_source = gauge_source
        r = self.registry
        self._feeds = Gauge("digestbot_feeds", "Feeds in the archive", registry=r)
        self._feeds_failing = Gauge(
            "digestbot_feeds_failing", "Feeds whose last poll failed", registry=r
        )
        self._items = Gauge("digestbot_items", "Items in the archive", registry=r)
        self._pending = Gauge(
            "digestbot_deliveries_pending",
            "Deliveries waiting in the outbox (pending or being sent)",
            registry=r,
        )
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
        for outcome in POLL_OUTCOMES:
            self._polls.labels(outcome)
        for kind in DELIVERY_KINDS:
            self._sent.labels(kind)
            self._failed.labels(kind)

    def observe_poll(self, outcome_kind: PollOutcomeKind, seconds: float) -> None:
        self._polls.labels(_known(outcome_kind, POLL_OUTCOMES)).inc()
        self._poll_seconds.observe(max(0.0, seconds))

    def delivery_sent(self, kind: DeliveryKind) -> None:
        self._sent.labels(_known(kind, DELIVERY_KINDS)).inc()

    def delivery_failed(self, kind: DeliveryKind) -> None:
        self._failed.labels(_known(kind, DELIVERY_KINDS)).inc()

    def search_latency(self, seconds: float) -> None:
        self._search.observe(max(0.0, seconds))

    def dm_sent(self) -> None:
        self._dms.inc()

    def set_store_gauges(self, gauges: StoreCounts) -> None:
        self._feeds.set(gauges.feeds)
        self._feeds_failing.set(gauges.feeds_failing)
        self._items.set(gauges.items)
        self._pending.set(gauges.deliveries_pending)

    async def refresh(self) -> None:
        """Read the database gauges now (called on every scrape). A failure keeps the last
        values: /metrics still answers, and /healthz reports the store problem."""
        if self._gauge_source is None:
            return
        try:
            gauges = await self._gauge_source()
        except Exception:
            log.warning("metrics: reading the store gauges failed", exc_info=True)
            return
        self.set_store_gauges(gauges)

    async def exposition(self) -> bytes:
        """The Prometheus text format of every series, gauges refreshed first."""
        await self.refresh()
        return generate_latest(self.registry)


def _known(value: str, allowed: tuple[str, ...]) -> str:
    """A label value from a fixed set: a caller's typo cannot create unbounded series."""
    return value if value in allowed else "other"


def poll_outcome_kind(*, failed: bool, not_modified: bool, new_items: int) -> PollOutcomeKind:
    """The label of one poll's result (`bot.ingest.pipeline.PollOutcome` fields)."""
    if failed:
        return "failed"
    if not_modified:
        return "not_modified"
    return "new_items" if new_items else "no_new_items"
