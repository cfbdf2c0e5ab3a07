"""Event-loop lag in the bot's own process while `/feed import` subscribes a 500-feed OPML file.

    .venv/bin/python -m bench.import_lag                  # 500 feeds × 20 items
    .venv/bin/python -m bench.import_lag --feeds 100      # a quick run
    .venv/bin/python -m bench.import_lag --padded         # a 1 MiB OPML file (500 feeds)
    .venv/bin/python -m bench.import_lag --poll-interval 1 --poll-concurrency 32  # busy poller
    .venv/bin/python -m bench.import_lag --debug          # also log callbacks over 100 ms

This process is the bot: a real `Runtime` (store on a temporary SQLite file, fetcher, pipeline,
poller and scheduler started) and nothing else on its event loop but a lag probe. The 500
Substack-shaped feeds (bench/corpus.py, ~15 kB of HTML per item) are served on loopback by a
separate process, so their CPU is not ours. The import runs the path the cog runs: the OPML
file is parsed with `parse_opml` and handed to `import_opml`, whose `add` subscribes a channel
through `runtime.subscriptions.subscribe` (fetch, parse, enrich, store the first poll).

The probe sleeps 50 ms in a loop; each tick's lag is how much later than 50 ms it woke up:
what a discord.py heartbeat or an interaction answered during the import would wait.
Prints the lag's p50 / p99 / max over the import, how long the OPML parse held the loop, the
import's wall time and how many feeds were added. Target (issue 12): max lag under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.ops.opml import MAX_OPML_BYTES, OpmlFeed, export_opml, import_opml, parse_opml

from bench.corpus import feed_xml
from bot.config import FetchAllowList, Settings
from bot.runtime import Runtime

TICK_S = 0.05
GUILD, CHANNEL, ADMIN = 1, 10, 100


def serve(port_file: Path, feeds: int, items: int) -> None:
    """The feed server (its own process, so its CPU is not counted as the bot's)."""
    from aiohttp import web

    bodies = {n: feed_xml(n, items) for n in range(feeds)}

    async def feed(request: web.Request) -> web.Response:
        body = bodies[int(request.match_info["n"])]
        return web.Response(body=body, content_type="application/rss+xml")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        await asyncio.to_thread(port_file.write_text, str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(main())


class LagProbe:
    """Sleeps `TICK_S` over and over, recording how late each wake-up was."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags.append(time.perf_counter() - start - TICK_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.lags)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return {
            "ticks": len(ordered),
            "p50": statistics.median(ordered),
            "p99": p99,
            "max": ordered[-1],
            "over_100ms": sum(1 for lag in ordered if lag > 0.1),
        }


def opml_document(base: str, feeds: int, padded: bool) -> bytes:
    """The OPML file of the feeds; `padded`: filled up to the 1 MiB cap with outlines that are
    not feeds (folders), the most work a file the cog accepts can ask of `parse_opml`."""
    document = export_opml(
        [OpmlFeed(f"Newsletter {n}", f"{base}/feed/{n}") for n in range(feeds)], "bench"
    )
    if not padded:
        return document
    folder = b'<outline text="folder"/>'
    room = MAX_OPML_BYTES - len(document)
    return document.replace(b"<body>", b"<body>" + folder * (room // len(folder)), 1)


async def run_import(args: argparse.Namespace, base: str, work: Path) -> dict[str, float]:
    settings = Settings(
        db_path=work / "import.db",
        fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
        poll_interval_s=args.poll_interval,
    )
    if args.poll_concurrency is not None:
        settings = dataclasses.replace(
            settings, poll_concurrency=args.poll_concurrency, poll_per_host=args.poll_concurrency
        )
    runtime = await Runtime.open(settings)
    await runtime.start()
    opml = opml_document(base, args.feeds, args.padded)
    probe = LagProbe()
    probe.start()
    try:
        await asyncio.sleep(0.5)  # a few idle ticks: the floor of this machine
        idle = probe.summary()
        probe.lags.clear()
        started = time.perf_counter()
        if args.parse_in_thread:
            parsed = await asyncio.to_thread(parse_opml, opml)  # as the CLI does
        else:
            parsed = parse_opml(opml)  # as the cog does, on the loop
        parse_s = time.perf_counter() - started

        async def add(url: str) -> bool:
            result = await runtime.subscriptions.subscribe(
                guild_id=GUILD,
                channel_id=CHANNEL,
                url=url,
                mode="instant",
                backfill=0,
                added_by=ADMIN,
            )
            return result.created

        results = await import_opml(parsed, add)
        wall = time.perf_counter() - started
    finally:
        await probe.stop()
        await runtime.close()
    failed = [r for r in results if r.status == "failed"]
    for result in failed[:3]:
        print(f"failed: {result.feed.xml_url}: {result.detail}")
    lag = probe.summary()
    return {
        **{f"lag_{k}": v for k, v in lag.items()},
        "idle_max": idle["max"],
        "parse_s": parse_s,
        "wall_s": wall,
        "added": sum(1 for r in results if r.status == "added"),
        "failed": len(failed),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=900.0,
        help="seconds; a short one keeps the poller re-polling the new feeds during the import",
    )
    parser.add_argument(
        "--poll-concurrency", type=int, help="feeds polled at once, per host too (default: 16, 2)"
    )
    parser.add_argument(
        "--padded", action="store_true", help="pad the OPML file to 1 MiB with folders"
    )
    parser.add_argument(
        "--parse-in-thread", action="store_true", help="parse the OPML file in a worker thread"
    )
    parser.add_argument("--debug", action="store_true", help="log callbacks over 100 ms")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.feeds, args.items)
        return
    work = Path(tempfile.mkdtemp(prefix="digestbot-import-lag-"))
    port_file = work / "port"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.import_lag", "--serve", str(port_file)),
            *("--feeds", str(args.feeds), "--items", str(args.items)),
        ],
    )
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists() or not port_file.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the feed server did not start")
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        if args.debug:
            logging.basicConfig(level=logging.WARNING)
        r = asyncio.run(
            run_import(args, base, work),
            debug=args.debug,
        )
        print(
            f"import of {args.feeds} feeds × {args.items} items (poll interval "
            f"{args.poll_interval:g} s): {r['wall_s']:.1f} s wall, "
            f"{r['added']:.0f} added, {r['failed']:.0f} failed"
        )
        where = "in a worker thread" if args.parse_in_thread else "on the loop"
        size = " (padded to 1 MiB)" if args.padded else ""
        print(f"OPML parse{size} {where}: {r['parse_s'] * 1000:.1f} ms")
        print(
            f"loop lag over {r['lag_ticks']:.0f} ticks of {TICK_S * 1000:.0f} ms: "
            f"p50 {r['lag_p50'] * 1000:.1f} ms, p99 {r['lag_p99'] * 1000:.1f} ms, "
            f"max {r['lag_max'] * 1000:.1f} ms; {r['lag_over_100ms']:.0f} ticks over 100 ms "
            f"(idle max {r['idle_max'] * 1000:.1f} ms)"
        )
        print(
            f"machine: {platform.machine()}, nproc {os.cpu_count()}, {cpu_model()}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
        )
        if r["failed"] or r["lag_max"] >= 1.0:
            sys.exit(1)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
