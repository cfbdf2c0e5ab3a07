"""The health endpoint: /metrics exposes the named series (gauges read from the store on
scrape), /healthz is 200 when healthy and 503 naming what fails."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from bot.model import EnrichedItem, Entry
from bot.ops.health import (
    HealthServer,
    Heartbeat,
    gateway_check,
    loop_alive_check,
    store_writable_check,
)
from bot.ops.metrics import Metrics
from bot.store import Store
from bot.store.items import FreshItem, save_items
from bot.store.maintenance import store_counts
from bot.store.polls import commit_failure
from tests.deliveryfakes import until

SERIES = {
    "digestbot_feeds",
    "digestbot_feeds_failing",
    "digestbot_items",
    "digestbot_polls",
    "digestbot_poll_duration_seconds",
    "digestbot_deliveries_pending",
    "digestbot_deliveries_sent",
    "digestbot_deliveries_failed",
    "digestbot_search_latency_seconds",
    "digestbot_dms_sent",
}


def fresh(stable_id: str) -> FreshItem:
    entry = Entry(
        stable_id=stable_id,
        title=f"Title {stable_id}",
        url=f"https://example.com/{stable_id}",
        author=None,
        published=datetime(2024, 1, 1, tzinfo=UTC),
        content_html="<p>body</p>",
        description_html="",
    )
    item = EnrichedItem(entry, "body", "body", None, f"c-{stable_id}")
    return FreshItem(item, f"r-{stable_id}")


@pytest_asyncio.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    store = await Store.open(store_target)
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def serving(server: HealthServer) -> AsyncIterator[HealthServer]:
    """The server started as the runtime starts it, and stopped."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_expose_every_named_series_with_store_gauges(store: Store) -> None:
    ok = await store.feeds.add("https://a.example/feed", interval_s=900, now=0, first_poll_at=0)
    bad = await store.feeds.add("https://b.example/feed", interval_s=900, now=0, first_poll_at=0)
    async with store.db.transaction() as tx:
        await save_items(tx, ok.id, [fresh("1"), fresh("2"), fresh("3")], now=1.0)
    await commit_failure(store.db, bad.id, now=2.0, next_poll_at=3.0, error="404")
    metrics = Metrics(gauge_source=functools.partial(store_counts, store.db))
    metrics.observe_poll("new_items", 0.3)
    metrics.observe_poll("failed", 1.5)
    metrics.observe_poll("not_modified", 0.01)
    metrics.delivery_sent("item")
    metrics.delivery_sent("item")
    metrics.delivery_failed("dm")
    metrics.search_latency(0.004)
    metrics.dm_sent()
    async with serving(HealthServer(port=0, metrics=metrics)) as server:
        assert server.host == "127.0.0.1"
        status, text = await get(server.url + "/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families.keys() >= SERIES
        values = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families.values()
            for s in f.samples
        }
        assert values[("digestbot_feeds", ())] == 2
        assert values[("digestbot_feeds_failing", ())] == 1
        assert values[("digestbot_items", ())] == 3
        assert values[("digestbot_deliveries_pending", ())] == 0
        assert values[("digestbot_polls_total", (("outcome", "new_items"),))] == 1
        assert values[("digestbot_polls_total", (("outcome", "failed"),))] == 1
        assert values[("digestbot_polls_total", (("outcome", "no_new_items"),))] == 0
        assert values[("digestbot_poll_duration_seconds_count", ())] == 3
        assert values[("digestbot_poll_duration_seconds_sum", ())] == pytest.approx(1.81)
        assert values[("digestbot_deliveries_sent_total", (("kind", "item"),))] == 2
        assert values[("digestbot_deliveries_failed_total", (("kind", "dm"),))] == 1
        assert values[("digestbot_search_latency_seconds_count", ())] == 1
        assert values[("digestbot_dms_sent_total", ())] == 1
        # Gauges are read at scrape time: a new item shows on the next scrape.
        async with store.db.transaction() as tx:
            await save_items(tx, ok.id, [fresh("4")], now=4.0)
        _, text = await get(server.url + "/metrics")
        assert "digestbot_items 4.0" in text.splitlines()


@pytest.mark.parametrize("store_target", ["sqlite"], indirect=True)  # an SQLite write lock
async def test_healthz_is_ok_then_503_when_the_store_cannot_be_written(store: Store) -> None:
    checks = {
        "store": store_writable_check(store.db, timeout_s=0.5),
        "gateway": gateway_check(None),
    }
    async with serving(HealthServer(port=0, checks=checks)) as server:
        status, text = await get(server.url + "/healthz")
        assert status == 200, text
        assert '"status": "ok"' in text
        # Another process holds the write lock: the probe cannot write in time.
        other = sqlite3.connect(store.db.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        status, text = await get(server.url + "/healthz")
        assert status == 503
        assert "did not finish within 0.5s" in text
        other.execute("ROLLBACK")
        other.close()

        # The probe was not cancelled half-way: once the lock is free, writes work again.
        async def healthy() -> bool:
            return (await get(server.url + "/healthz"))[0] == 200

        await until(healthy, what="/healthz healthy again")
        feed = await store.feeds.add("https://c.example/f", interval_s=9, now=0, first_poll_at=0)
        assert feed.id
        # The writer is gone (closed): unhealthy, naming the store.
        await store.db.close()
        status, text = await get(server.url + "/healthz")
        assert status == 503
        assert '"store": "the database cannot be written' in text
        assert '"gateway": "ok"' in text


async def test_healthz_names_a_stalled_loop_and_a_lost_gateway() -> None:
    now = [1000.0]
    poller, outbox = Heartbeat(lambda: now[0]), Heartbeat(lambda: now[0])
    connected = [True]
    checks = {
        "poller": loop_alive_check("poller", poller, 60),
        "outbox": loop_alive_check("outbox", outbox, 30),
        "gateway": gateway_check(lambda: connected[0]),
    }
    async with serving(HealthServer(port=0, checks=checks)) as server:
        poller.tick()
        outbox.tick()
        now[0] += 20
        assert (await get(server.url + "/healthz"))[0] == 200
        now[0] += 20  # outbox silent for 40 s (limit 30), poller for 40 s (limit 60)
        outbox_stale = await get(server.url + "/healthz")
        assert outbox_stale[0] == 503
        assert "the outbox loop last ran 40s ago" in outbox_stale[1]
        assert '"poller": "ok"' in outbox_stale[1]
        outbox.tick()
        connected[0] = False
        status, text = await get(server.url + "/healthz")
        assert status == 503 and "not connected to the Discord gateway" in text
        connected[0] = True
        assert (await get(server.url + "/healthz"))[0] == 200
