"""Ingest benchmark: a generated Substack-shaped corpus served on loopback by a separate process.

    .venv/bin/python -m bench.ingest [--feeds 1000] [--items 20]

Prints, in one run: bare feedparser.parse items/s; full-path items/s per CPU core (fetch + parse
+ clean + summarize + store + index, measured as the CPU time of this process, all threads,
and of its parse worker processes); their ratio; CPU per feed of a 304 poll and of an
unchanged 200 poll; peak RSS.
Targets (issue 3): full path ≥ 100 new items/s per core; an unchanged poll ≤ 2 ms CPU per feed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import feedparser

from bench.corpus import feed_xml
from bot.config import FetchAllowList, Settings
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.ingest.poller import FeedPoller
from bot.store import Store

WORK = Path(__file__).parent / ".work"


def our_cpu() -> float:
    """CPU seconds of this process (all threads) and of its parse workers (every feed is
    parsed in a bounded worker process, bot.ingest.sandbox); not the corpus server's."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"bot.ingest.sandbox" in cmdline:
            total += (int(stat[11]) + int(stat[12])) / ticks  # utime + stime
    return total


def serve(port_file: Path, feeds: int, items: int) -> None:
    """The corpus server (its own process, so its CPU is not counted as ours)."""
    from aiohttp import web

    bodies = {n: feed_xml(n, items) for n in range(feeds)}
    state = {"etag": True}

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        etag = f'"v1-{n}"'
        if state["etag"]:
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                body=bodies[n], headers={"ETag": etag}, content_type="application/rss+xml"
            )
        return web.Response(body=bodies[n], content_type="application/rss+xml")

    async def mode(request: web.Request) -> web.Response:
        state["etag"] = request.query.get("etag") == "1"
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", feed)
        app.router.add_get("/mode", mode)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await asyncio.to_thread(port_file.write_text, str(port))
        await asyncio.Event().wait()

    asyncio.run(main())


def bare_feedparser(feeds: int, items: int) -> tuple[float, float]:
    bodies = [feed_xml(n, items) for n in range(feeds)]
    start = time.process_time()
    for body in bodies:
        feedparser.parse(body)
    default = feeds * items / (time.process_time() - start)
    start = time.process_time()
    for body in bodies:
        feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    fast = feeds * items / (time.process_time() - start)
    return default, fast


async def full_path(base: str, feeds: int, items: int) -> dict[str, float]:
    import urllib.request

    db_path = WORK / "ingest.db"
    for suffix in ("", "-wal", "-shm"):
        await asyncio.to_thread(Path(str(db_path) + suffix).unlink, missing_ok=True)
    settings = Settings(db_path=db_path, fetch_allow=FetchAllowList.parse("127.0.0.1/32"))
    store = await Store.open(db_path)
    fetcher = FeedFetcher(settings)
    pipeline = FeedPipeline(store, fetcher)
    poller = FeedPoller(store, pipeline, concurrency=8, per_host=8)
    for n in range(feeds):
        await store.feeds.add(f"{base}/feed/{n}", interval_s=900, now=0, first_poll_at=0)
    results: dict[str, float] = {}

    async def cycle() -> tuple[float, float, int, int]:
        cpu, wall = our_cpu(), time.perf_counter()
        outcomes = await poller.poll_due(all_feeds=True)
        failed = sum(1 for o in outcomes if o.error is not None)
        new = sum(len(o.new_item_ids) for o in outcomes)
        return our_cpu() - cpu, time.perf_counter() - wall, new, failed

    cpu, wall, new, failed = await cycle()
    assert failed == 0, f"{failed} feeds failed"
    assert new == feeds * items, (new, feeds * items)
    results.update(full_cpu=cpu, full_wall=wall, new_items=new)

    cpu, wall, new, failed = await cycle()
    assert new == 0 and failed == 0
    results.update(cpu_304=cpu / feeds, wall_304=wall)

    await asyncio.to_thread(urllib.request.urlopen, f"{base}/mode?etag=0")
    cpu, wall, new, failed = await cycle()
    assert new == 0 and failed == 0
    results.update(cpu_200=cpu / feeds, wall_200=wall)
    results["db_mb"] = (await asyncio.to_thread(db_path.stat)).st_size / 1e6
    await fetcher.close()
    await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.feeds, args.items)
        return
    WORK.mkdir(exist_ok=True)
    port_file = WORK / "ingest.port"
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.ingest",
            "--serve",
            str(port_file),
            "--feeds",
            str(args.feeds),
            "--items",
            str(args.items),
        ],
    )
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the corpus server did not start")
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        sample = feed_xml(0, args.items)
        print(
            f"corpus: {args.feeds} feeds × {args.items} items, "
            f"{len(sample) / args.items / 1000:.1f} kB per item, "
            f"{len(sample) / 1e6:.2f} MB per feed"
        )
        bare_default, bare_fast = bare_feedparser(min(args.feeds, 50), args.items)
        print(f"bare feedparser.parse (defaults):                 {bare_default:8.0f} items/s")
        print(f"bare feedparser.parse (no sanitize/resolve):       {bare_fast:8.0f} items/s")
        r = asyncio.run(full_path(base, args.feeds, args.items))
        per_core = r["new_items"] / r["full_cpu"]
        print(
            f"full path, per CPU core (CPU {r['full_cpu']:.1f} s):       {per_core:8.0f} items/s"
            f"  ({1000 / per_core:.2f} ms/item; wall {r['new_items'] / r['full_wall']:.0f} items/s)"
        )
        print(f"ratio bare feedparser (defaults) / full path:      {bare_default / per_core:8.2f}")
        print(f"304 poll:           {r['cpu_304'] * 1000:6.3f} ms CPU per feed")
        print(f"unchanged 200 poll: {r['cpu_200'] * 1000:6.3f} ms CPU per feed")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:.0f} MB; database: {r['db_mb']:.0f} MB")
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
        )
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(WORK / "ingest.port", ignore_errors=True)


if __name__ == "__main__":
    main()
