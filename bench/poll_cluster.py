"""Polling throughput on PostgreSQL with 1 and with 3 processes sharing the feeds (issue 18).

    .venv/bin/python -m bench.poll_cluster [--feeds 10000] [--processes 1 3] [--concurrency 16]

A throwaway PostgreSQL server (tests/pgserver.py) holds `--feeds` feeds, all due, each already
polled once (its ETag stored), so the loopback corpus server (its own process) answers each
poll 304: "mostly unchanged", the common case. For each process count, every feed is made due
again and that many `bench.poll_cluster --worker` processes, started together, poll until no
feed is due (timed from when the feeds are made due, all of them started and connected):
the due feeds are leased, so each is polled by one of them. Prints the wall time
of the round, feeds polled per second, the ratio to one process, and how the feeds were spread
over the processes (each feed polled exactly once in all is checked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.ingest import serve
from bot.config import FetchAllowList, Settings
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.ingest.poller import FeedPoller
from bot.store import Store


async def worker(url: str, concurrency: int) -> None:
    """One process: poll due feeds until none is due; print how many it polled and when."""
    settings = Settings(
        db_path=url,  # type: ignore[arg-type]  # as DIGESTBOT_DB gives it
        fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
        poll_concurrency=concurrency,
        poll_per_host=concurrency,  # every feed is on the one loopback host
    )
    store = await Store.open(url)
    polled = failed = 0
    try:
        async with FeedFetcher(settings) as fetcher:
            poller = FeedPoller(
                store, FeedPipeline(store, fetcher), concurrency=concurrency, per_host=concurrency
            )
            print("ready", flush=True)
            while True:  # until the round starts
                if await store.feeds.due(time.time(), 1):
                    break
                await asyncio.sleep(0.01)
            start = time.time()
            while True:
                outcomes = await poller.poll_due()
                polled += len(outcomes)
                failed += sum(1 for o in outcomes if o.error is not None)
                if not outcomes:
                    if not await store.feeds.due(time.time(), 1):
                        break
                    await asyncio.sleep(0.05)  # the rest are leased to the others
            print(
                json.dumps({"start": start, "end": time.time(), "polled": polled, "failed": failed})
            )
    finally:
        await store.close()


async def seed(url: str, base: str, feeds: int) -> None:
    """`feeds` feeds, each polled once before (ETag stored), none due yet. Their interval is
    long: a feed's next poll falls on its slot of the interval, which with a short one could
    come round again within the round (a second poll, rightly)."""
    await (await Store.open(url)).close()  # migrate
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO feeds (url, title, etag, interval_s, next_poll_at, last_success_at, "
            "created_at) SELECT $1 || '/feed/' || n, 'feed ' || n, '\"v1-' || n || '\"', 1e9, "
            "1e12, 1, 1 FROM generate_series(0, $2 - 1) AS n",
            base,
            feeds,
        )
    finally:
        await conn.close()


async def make_due(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE feeds SET next_poll_at = 0, lease_holder = NULL")
    finally:
        await conn.close()


def round_of(url: str, processes: int, concurrency: int) -> list[dict[str, float]]:
    """Start the workers, make every feed due once all are ready, gather their reports."""
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.poll_cluster",
                "--worker",
                url,
                "--concurrency",
                str(concurrency),
            ],
            stdout=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        asyncio.run(make_due(url))
        results = [json.loads(child.communicate(timeout=1800)[0]) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args.worker, args.concurrency))
        return

    from tests.pgserver import admin, running_server, with_database

    with tempfile.TemporaryDirectory() as folder, running_server() as server:
        port_file = Path(folder) / "port"
        corpus = multiprocessing.Process(target=serve, args=(port_file, args.feeds, 1))
        corpus.start()
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port_file.read_text()}"
            admin(server, "CREATE DATABASE bench_poll")
            url = with_database(server, "bench_poll")
            asyncio.run(seed(url, base, args.feeds))
            print(
                f"{args.feeds:,} feeds (304 each), concurrency {args.concurrency} per process, "
                f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}, "
                f"Python {platform.python_version()}"
            )
            single: float | None = None
            for processes in args.processes:
                results = round_of(url, processes, args.concurrency)
                wall = max(r["end"] for r in results) - min(r["start"] for r in results)
                polled = sum(int(r["polled"]) for r in results)
                failed = sum(int(r["failed"]) for r in results)
                assert polled == args.feeds and failed == 0, (polled, failed)
                rate = polled / wall
                single = single or rate
                spread = " / ".join(f"{int(r['polled']):,}" for r in results)
                print(
                    f"{processes} process(es): {wall:.1f} s, {rate:,.0f} feeds/s "
                    f"(x{rate / single:.2f} of one), each polled: {spread}"
                )
        finally:
            corpus.kill()
            corpus.join()


if __name__ == "__main__":
    main()
