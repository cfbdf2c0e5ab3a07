"""Discord's budget used by several `python -m bot run` processes on one PostgreSQL (issue 18).

    .venv/bin/python bench/deliver_cluster.py                    # 1 process, then 3
    .venv/bin/python bench/deliver_cluster.py --processes 3      # 3 only
    .venv/bin/python bench/deliver_cluster.py --feeds 200 --singles 5   # a quick run

bench/deliver.py's budget check, with the bot as real processes: a throwaway PostgreSQL server
(tests/pgserver.py), the loopback fake Discord (two gateway shards, one guild on each, the
channels split between them) and the loopback feed server run in this process; the bot runs as
`python -m bot run` children (tests/fakediscord/launch.py points discord.py at the fake): one
process with every shard, or three (`DIGESTBOT_SHARDS` 0/2, 1/2 and none), sharing the feeds
(polling leases), the outbox (leased per target) and Discord's budget (SharedBudget in
PostgreSQL). Each run has a database of its own. Subscriptions are made through the service
`/feed add` calls (backfill 0) before the bots start; then one new item in each of `--feeds`
feeds (3 channels each: 1,500 posts across 150 channels by default), and `--singles` single
items one at a time. Prints, per run, the same figures as bench/deliver.py: posts/s while
sending and sustained (middle 80%), single-item poll-to-post p50/p99 (items.first_seen_at →
deliveries.sent_at, both written by the bots' processes on one machine), and the fake's bucket
checks (every request outside a channel's 5 per 5 s or the global 50/s is an overrun), and the
requests the fake saw per route (in brackets: how many of them it answered 429).
Exits non-zero if a post is missing or duplicated or a bucket was exceeded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import sys
import tempfile
import time
import types
from collections import Counter
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.deliver import (
    CHANNELS_PER_FEED,
    FEEDS_PER_CHANNEL,
    Feeds,
    percentile,
    samples,
    sustained_rate,
    wait_for_sent,
)
from bot.config import FetchAllowList, Settings
from bot.runtime import Runtime
from bot.store import Store
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer
from tests.pgserver import admin, running_server, with_database

REPO = Path(__file__).resolve().parent.parent
SHARDS: dict[int, list[str | None]] = {1: [None], 3: ["0/2", "1/2", "none"]}  # None: all


class Bots:
    """The bot processes, each logging to a file of its own."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[asyncio.subprocess.Process] = []
        self.files: list[IO[bytes]] = []

    def log(self, n: int) -> Path:
        return self.logs / f"bot-{n}.log"

    async def start(self, shards: str | None) -> None:
        log = self.log(len(self.processes)).open("wb")
        self.files.append(log)
        env = dict(self.env)
        if shards is not None:
            env["DIGESTBOT_SHARDS"] = shards
        self.processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.fakediscord.launch",
                "bot",
                "run",
                cwd=REPO,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        )

    async def wait_for_line(self, n: int, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log(n).read_text(errors="replace"):
            if time.monotonic() > deadline or self.processes[n].returncode is not None:
                raise SystemExit(f"FAILED: bot {n} never logged {text!r}\n{self.output()}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for file in self.files:
            file.close()

    def output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.logs.glob("bot-*.log"))
        )

    def warnings(self) -> Counter[str]:
        """WARNING/ERROR lines in every log, by their text before any number (for the report)."""
        found: Counter[str] = Counter()
        for path in self.logs.glob("bot-*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if (
                    " WARNING " in line
                    or " ERROR " in line
                    or line.startswith(("WARNING", "ERROR"))
                ):
                    found[line.split(" ", 1)[-1].split(":", 1)[0][:120]] += 1
        return found


async def subscribe_all(
    url: str, server: FeedServer, feeds: Feeds, channels: list[tuple[int, int]], interval: float
) -> float:
    """Each feed followed by 3 channels, through the service `/feed add` calls; seconds taken.
    The feeds' polling slots come from the interval given here (as the bots' will)."""
    settings = Settings(
        db_path=url,  # type: ignore[arg-type]  # as DIGESTBOT_DB gives it
        poll_interval_s=interval,
        fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
        log_level="WARNING",
    )
    runtime = await Runtime.open(settings)
    started = time.perf_counter()
    gate = asyncio.Semaphore(16)
    count = len(channels)

    async def subscribe(index: int) -> None:
        async with gate:
            for k in range(CHANNELS_PER_FEED):
                guild_id, channel_id = channels[(index + k * (count // CHANNELS_PER_FEED)) % count]
                await runtime.subscriptions.subscribe(
                    guild_id=guild_id,
                    channel_id=channel_id,
                    url=server.url(feeds.path(index)),
                    backfill=0,
                )

    try:
        await asyncio.gather(*(subscribe(i) for i in range(len(feeds.items))))
    finally:
        await runtime.close()
    return time.perf_counter() - started


async def run(server_url: str, processes: int, args: argparse.Namespace) -> bool:
    channel_count = max(CHANNELS_PER_FEED, args.feeds * CHANNELS_PER_FEED // FEEDS_PER_CHANNEL)
    name = f"bench_deliver_{processes}_{os.getpid()}"
    admin(server_url, f"CREATE DATABASE {name}")
    url = with_database(server_url, name)
    async with FakeDiscord.serve(recommended_shards=2) as fake, FeedServer() as server:
        guilds = [fake.state.add_guild(f"Bench {n}", shard=(n, 2)) for n in range(2)]
        channels = []
        for n in range(channel_count):
            guild = guilds[n % 2]
            channels.append((guild.id, fake.state.add_text_channel(guild.id, f"news-{n}").id))
        channel_ids = [c for _, c in channels]
        feeds = Feeds(server, args.feeds)
        for index in range(args.feeds):
            feeds.publish(index)  # archived when subscribed, never posted
        await (await Store.open(url)).close()  # migrate once, not in three processes at once
        setup_s = await subscribe_all(url, server, feeds, channels, args.poll_interval)
        store = await Store.open(url)
        handle = types.SimpleNamespace(store=store)  # what bench.deliver's helpers read
        with tempfile.TemporaryDirectory() as folder:
            env = fake.subprocess_env()
            env.pop("DIGESTBOT_CONFIG", None)
            env.update(
                DIGESTBOT_DB=url,
                DIGESTBOT_POLL_INTERVAL=f"{args.poll_interval:g}s",
                DIGESTBOT_FETCH_ALLOW="127.0.0.1/32",
                DIGESTBOT_LOG_LEVEL="INFO",
                PYTHONUNBUFFERED="1",
            )
            bots = Bots(env, Path(folder))
            try:
                for shards in SHARDS[processes]:
                    await bots.start(shards)
                await fake.wait_for_gateway("ready", 2, timeout=120)
                for n, shards in enumerate(SHARDS[processes]):
                    if shards == "none":
                        await bots.wait_for_line(n, "worker: no gateway connection", 60)
                load = os.getloadavg()[0]
                started = time.perf_counter()
                for index in range(args.feeds):
                    feeds.publish(index)
                expected = args.feeds * CHANNELS_PER_FEED
                await wait_for_sent(handle, expected, args.timeout)  # type: ignore[arg-type]
                elapsed = time.perf_counter() - started
                found = await samples(handle, feeds, channel_ids)  # type: ignore[arg-type]
                burst = {s.delivery_id for s in found}
                for single in range(args.singles):
                    feeds.publish(single % args.feeds)
                    expected += CHANNELS_PER_FEED
                    await wait_for_sent(handle, expected, args.timeout)  # type: ignore[arg-type]
                singles = [
                    s
                    for s in await samples(handle, feeds, channel_ids)  # type: ignore[arg-type]
                    if s.delivery_id not in burst
                ]
                counts = await store.deliveries.counts()
                load = max(load, os.getloadavg()[0])
            except BaseException:
                print(bots.output())
                raise
            finally:
                await bots.stop()
                await store.close()
            warnings = bots.warnings()

        posts = [m for c in channel_ids for m in fake.bot_posts(c)]
        duplicates = [
            key
            for key, n in Counter((m.channel_id, str(m.embeds[0]["url"])) for m in posts).items()
            if n > 1
        ]
        limits = fake.ratelimits
        worst_channel = max(limits.max_sends_in_window(c, 5.0) for c in channel_ids)
        sent_times = sorted(s.sent_at for s in found)
        span = sent_times[-1] - sent_times[0] if len(sent_times) > 1 else 0.0
        label = "1 process (all shards)" if processes == 1 else "3 processes (0/2, 1/2, none)"
        print(f"== {label}, PostgreSQL; load avg up to {load:.1f}")
        print(
            f"subscribing {args.feeds * CHANNELS_PER_FEED} channel-feeds: {setup_s:.1f} s; "
            f"posts expected={expected} posted={len(posts)} duplicates={len(duplicates)} "
            f"deliveries: sent={counts['sent']} failed={counts['failed']} "
            f"pending={counts['pending']}"
        )
        poll_to_post = [s.poll_to_post for s in found]
        print(
            f"burst: {len(found)} posts in {elapsed:.1f} s from publishing; "
            f"{len(found) / span if span else 0:.1f} posts/s while sending, "
            f"{sustained_rate(sent_times):.1f} posts/s sustained (middle 80%); poll-to-post "
            f"p50={percentile(poll_to_post, 0.5):.2f} s p99={percentile(poll_to_post, 0.99):.2f} s"
        )
        if singles:
            single_latency = [s.poll_to_post for s in singles]
            print(
                f"single new item ({args.singles} items, {len(singles)} posts): poll-to-post "
                f"p50={percentile(single_latency, 0.5):.3f} s "
                f"p99={percentile(single_latency, 0.99):.3f} s"
            )
        print(
            f"buckets: most sends to one channel in any 5 s = {worst_channel} (limit 5); "
            f"most requests in any 1 s = {limits.max_global_in_window} (limit 50; "
            f"{limits.max_requests_in_window(1.0)} in a sliding second); "
            f"per-channel violations = {len(limits.channel_violations())}; "
            f"overruns = {limits.overruns}"
        )
        kinds = Counter(f"{v.scope} {v.bucket}" for v in limits.violations)
        if kinds:
            print(
                "  overruns by bucket: " + ", ".join(f"{k}: {n}" for k, n in kinds.most_common(5))
            )
        routes = Counter(
            (r.method, re.sub(r"\d{5,}", "{id}", r.path), r.status == 429) for r in fake.requests
        )
        print(
            "  requests by route (429s): "
            + ", ".join(
                f"{method} {path} {n} ({routes[method, path, True]})"
                for (method, path, limited), n in routes.most_common(8)
                if not limited
            )
        )
        for line, n in warnings.most_common(5):
            print(f"  log: {n} × {line}")
        return len(posts) == expected and not duplicates and not limits.violations


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", choices=[1, 3], default=[1, 3])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--singles", type=int, default=20, help="single items, one at a time")
    parser.add_argument("--timeout", type=float, default=600.0, help="per wait, seconds")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPU(s) (nproc {len(os.sched_getaffinity(0))}), "
        f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"python {platform.python_version()}; feeds={args.feeds} poll interval="
        f"{args.poll_interval:g}s"
    )
    ok = True
    with running_server() as server:
        for processes in args.processes:
            ok = asyncio.run(run(server, processes, args)) and ok
    if not ok:
        raise SystemExit("FAILED: lost or duplicated posts, or a bucket was exceeded")
    print("OK: every item posted once in each subscribed channel; no bucket exceeded")


if __name__ == "__main__":
    main()
