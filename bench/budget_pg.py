"""The cost of Discord's budget shared through PostgreSQL (bot.delivery.budget.SharedBudget),
per request, beside the in-process LocalBudget.

    .venv/bin/python bench/budget_pg.py                  # 2,000 requests per process
    .venv/bin/python bench/budget_pg.py --requests 500

Every request is a `take(target)` over 100 targets, with limits set so high that nothing ever
waits: what is measured is the bookkeeping alone (a global slot reserved, a target's window
counted: two statements), and `hold(target)` (one read) that the outbox asks before each
delivery. With 3 processes (3 pools) taking at once, rows are shared: the global slot's row
is the one every request locks. PostgreSQL is a throwaway local server (tests/pgserver.py) or
DIGESTBOT_BENCH_PG_URL (an empty database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_pg import database, server
from bot.delivery.budget import DiscordLimits, LocalBudget, RequestBudget, SharedBudget
from bot.store import Store

UNBOUNDED = DiscordLimits(requests_per_s=1e9, target_burst=1_000_000, target_window_s=5.0)
TARGETS = 100


async def timed(count: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    """Milliseconds of each of `count` calls, one after another."""
    times: list[float] = []
    for n in range(count):
        started = time.perf_counter()
        await call(n)
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(name: str, times: list[float]) -> str:
    times = sorted(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return (
        f"  {name:34} median {statistics.median(times):6.3f} ms, p99 {p99:6.3f} ms "
        f"({len(times)} calls)"
    )


async def run(url: str, requests: int) -> None:
    local: RequestBudget = LocalBudget(UNBOUNDED, time.monotonic)
    print(line("LocalBudget take", await timed(requests, lambda n: local.take(("channel", n)))))

    stores = [await Store.open(url) for _ in range(3)]
    try:
        budgets = [SharedBudget(s.budget, UNBOUNDED) for s in stores]
        one = budgets[0]
        await timed(100, lambda n: one.take(("channel", n % TARGETS)))  # warm up
        print(
            line(
                "SharedBudget take, 1 process",
                await timed(requests, lambda n: one.take(("channel", n % TARGETS))),
            )
        )
        print(
            line(
                "SharedBudget hold, 1 process",
                await timed(requests, lambda n: one.hold(("channel", n % TARGETS))),
            )
        )
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                timed(requests, lambda n, b=b: b.take(("channel", n % TARGETS)))  # type: ignore[misc]
                for b in budgets
            )
        )
        elapsed = time.perf_counter() - started
        print(line("SharedBudget take, 3 at once", [t for r in results for t in r]))
        print(f"  3 at once: {3 * requests / elapsed:,.0f} takes/s in all (Discord allows 50/s)")
    finally:
        for store in stores:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with server() as url:
        asyncio.run(run(database(url, "bench_budget"), args.requests))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
