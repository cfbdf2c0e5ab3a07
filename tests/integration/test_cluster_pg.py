"""Several bot processes on one real PostgreSQL database share the polling and the periodic
work: a due feed is polled by one of them, a dead one's feeds are taken over when its leases
expire, a once-per-cluster job runs in one, and a follow made in one reaches the others.

Each "process" is a Runtime with its own store (its own connection pool) and process id, as
a separate `python -m bot run` would have; they meet only in the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.config import FetchAllowList, Settings
from bot.ops.doctor import run_doctor
from bot.runtime import Runtime
from bot.scheduler import JobScheduler
from bot.store import Store
from bot.store.postgres import pg_report
from tests.deliveryfakes import until
from tests.feedserver import FeedServer, rss_feed

INTERVAL_S = 600.0
T0 = 1_900_000_000.0


class Clock:
    """The processes' wall clock, moved by the test (leases and due times are read from it)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Until `condition` holds, for up to 30 s (the machine is busy)."""
    await until(condition, timeout=30, what=what)


@asynccontextmanager
async def process(
    pg_url: str, clock: Callable[[], float] = time.time, **more: Any
) -> AsyncIterator[Runtime]:
    settings = Settings(
        db_path=pg_url,  # type: ignore[arg-type]  # as DIGESTBOT_DB gives it
        fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
        poll_interval_s=INTERVAL_S,
        poll_concurrency=16,
        poll_per_host=16,  # every feed is on the one loopback host
        **more,
    )
    runtime = Runtime(settings, await Store.open(pg_url), clock=clock)
    try:
        yield runtime
    finally:
        await runtime.close()


async def add_feeds(
    runtime: Runtime, server: FeedServer, count: int, due_at: float = T0
) -> list[str]:
    """`count` feeds due at `due_at` (added straight to the store: no fetch counted)."""
    paths = [f"/f{n}" for n in range(count)]
    for n, path in enumerate(paths):
        server.set(path, rss_feed([{"title": f"post {n}", "guid": f"g{n}"}]))
        await runtime.store.feeds.add(
            server.url(path), interval_s=INTERVAL_S, now=due_at - 1, first_poll_at=due_at
        )
    return paths


async def test_two_processes_poll_each_due_feed_once(pg_url: str, feed_server: FeedServer) -> None:
    clock = Clock()
    async with process(pg_url, clock) as a, process(pg_url, clock) as b:
        paths = await add_feeds(a, feed_server, 12)
        # A's fetches are held at the server: its polls are in flight while B looks.
        release = asyncio.Event()
        held = 0

        def holding(path: str) -> Any:
            async def handler(request: web.Request) -> web.StreamResponse:
                nonlocal held
                held += 1
                await asyncio.wait_for(release.wait(), 30)
                return web.Response(text=rss_feed([{"title": path, "guid": path}]))

            return handler

        for path in paths:
            feed_server.set_handler(path, holding(path))
        a_polls = asyncio.create_task(a.poller.poll_due())
        try:
            await wait_for(lambda: held == len(paths), "A's fetches")
            assert await a.store.feeds.leases_held(a.process_id) == len(paths)
            assert await b.poller.poll_due() == []  # all leased to A: B fetches nothing
            assert [feed_server.hits(p) for p in paths] == [1] * len(paths)
        finally:
            release.set()
            outcomes = await a_polls
        assert len(outcomes) == len(paths) and all(o.error is None for o in outcomes)
        assert await a.store.feeds.leases_held(a.process_id) == 0  # ended with the polls
        # The next due time: both look at once, and between them each feed is polled once.
        for n, path in enumerate(paths):
            feed_server.set(path, rss_feed([{"title": f"post {n}", "guid": f"g{n}"}]))
        clock.now = T0 + INTERVAL_S + 1
        both = await asyncio.gather(a.poller.poll_due(), b.poller.poll_due())
        assert sum(len(found) for found in both) == len(paths)
        assert [feed_server.hits(p) for p in paths] == [2] * len(paths)


async def test_a_slow_poll_keeps_its_leases_however_long_it_takes(
    pg_url: str, feed_server: FeedServer
) -> None:
    """A renews its leases while its fetches hang: long past the lease's length (on the
    processes' clock), B still finds nothing to poll, and each feed is fetched once."""
    clock = Clock()
    lease_s = 1.5
    async with (
        process(pg_url, clock, feed_lease_s=lease_s) as a,
        process(pg_url, clock, feed_lease_s=lease_s) as b,
    ):
        paths = await add_feeds(a, feed_server, 3)
        release = asyncio.Event()
        held = 0

        async def holding(request: web.Request) -> web.StreamResponse:
            nonlocal held
            held += 1
            await asyncio.wait_for(release.wait(), 30)
            return web.Response(text=rss_feed([{"title": request.path, "guid": request.path}]))

        for path in paths:
            feed_server.set_handler(path, holding)
        a_polls = asyncio.create_task(a.poller.poll_due())
        try:
            await wait_for(lambda: held == len(paths), "A's fetches")
            clock.now = T0 + 10 * lease_s  # A's first leases are long expired by now

            async def renewed() -> bool:
                report = await pg_report(pg_url, now=clock.now)
                return [(lease.holder, lease.held) for lease in report.leases] == [
                    (a.process_id, len(paths))
                ]

            await wait_for(renewed, "A's leases renewed past the clock")
            assert await b.poller.poll_due() == []
            assert [feed_server.hits(p) for p in paths] == [1] * len(paths)
        finally:
            release.set()
            outcomes = await a_polls
        assert len(outcomes) == len(paths) and all(o.error is None for o in outcomes)


async def test_a_dead_processs_feeds_are_taken_over_when_its_leases_expire(
    pg_url: str, feed_server: FeedServer
) -> None:
    clock = Clock()
    async with process(pg_url, clock) as survivor:
        paths = await add_feeds(survivor, feed_server, 5)
        # A process took the due feeds and died before polling them (its leases stay).
        taken = await survivor.store.feeds.take_due(T0, 100, holder="gone:1:abc", lease_s=60)
        assert len(taken) == len(paths)
        assert await survivor.store.feeds.next_due_at(T0) == T0 + 60  # not before expiry
        clock.now = T0 + 30
        assert await survivor.poller.poll_due() == []
        assert [feed_server.hits(p) for p in paths] == [0] * len(paths)
        clock.now = T0 + 61
        outcomes = await survivor.poller.poll_due()
        assert len(outcomes) == len(paths) and all(o.error is None for o in outcomes)
        assert [feed_server.hits(p) for p in paths] == [1] * len(paths)
        assert await survivor.store.feeds.leases_held("gone:1:abc") == 0


async def test_a_once_per_cluster_job_runs_in_one_of_two_processes(pg_url: str) -> None:
    stores = [await Store.open(pg_url), await Store.open(pg_url)]
    gated: list[tuple[int, bool]] = []
    entered: list[int] = []
    finish = asyncio.Event()
    schedulers = []
    try:
        for n, store in enumerate(stores):

            async def job(n: int = n) -> None:
                entered.append(n)
                await asyncio.wait_for(finish.wait(), 30)

            scheduler = JobScheduler(
                store.locks.exclusive, lambda lock, ran, n=n: gated.append((n, ran))
            )
            scheduler.at("prune:start", datetime.now(UTC), job, lock="retention")
            schedulers.append(scheduler)
        for scheduler in schedulers:
            scheduler.start()
        await wait_for(lambda: len(gated) == 2, "both processes to try the job")
        assert sorted(ran for _, ran in gated) == [False, True]
        assert entered == [n for n, ran in gated if ran]  # only the lock's holder ran it
        # Freed when the run ends (its scheduler waits for it): the other gets it next time.
        finish.set()
        await schedulers[entered[0]].shutdown()
        loser = 1 - entered[0]
        schedulers[loser].at("prune:again", datetime.now(UTC), finish.wait, lock="retention")
        await wait_for(lambda: (loser, True) in gated, "the other process's next run")
    finally:
        finish.set()
        for scheduler in schedulers:
            await scheduler.shutdown()
        for store in stores:
            await store.close()


async def test_a_follow_in_one_process_is_matched_in_another_within_seconds(pg_url: str) -> None:
    async with process(pg_url) as a, process(pg_url) as b:
        await a.start_follows()
        await b.start()  # its topics refresh runs on its scheduler
        assert b.follows.match(["A kangaroo crossed the road"]) == set()
        answer = await a.follows.follow(1, 2, "kangaroo")
        assert answer.result.topic is not None
        topic_id = answer.result.topic.id
        await wait_for(
            lambda: b.follows.match(["A kangaroo crossed the road"]) == {topic_id}, "the follow"
        )
        assert await a.follows.unfollow(1, 2, "kangaroo") is not None
        await wait_for(lambda: b.follows.match(["A kangaroo again"]) == set(), "the unfollow")


async def test_doctor_and_metrics_show_the_leases(pg_url: str, feed_server: FeedServer) -> None:
    now = time.time()
    async with process(pg_url) as runtime:
        await add_feeds(runtime, feed_server, 3, due_at=now - 60)
        feeds = runtime.store.feeds
        await feeds.take_due(now, 2, holder=runtime.process_id, lease_s=600)
        await feeds.take_due(now, 1, holder="gone:7:dead00", lease_s=-10)  # already expired
        text = (await runtime.metrics.exposition()).decode()
        assert "digestbot_feed_leases_held 2.0" in text
        assert f'digestbot_process_info{{process="{runtime.process_id}"}} 1.0' in text
        settings = runtime.settings
    found = [f for f in await run_doctor(settings, online=False) if f.area == "leases"]
    assert [f.severity for f in found] == ["ok", "warning"]
    assert found[0].message.startswith("2 feed leases held now by 1 process.")
    assert "gone:7:dead00 (1)" in found[1].message
