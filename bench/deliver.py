"""Benchmark delivery: 1,000 feeds × 3 channels against the loopback fake Discord.

    .venv/bin/python bench/deliver.py                       # 1000 feeds, 3 cycles of 100 new items
    .venv/bin/python bench/deliver.py --new-per-cycle 1000  # every feed has news every cycle
    .venv/bin/python bench/deliver.py --rate 20 --cycles 2

Everything is real except Discord and the feeds: feeds are served by the loopback feed server
(tests/feedserver.py), polled by the real FeedPoller → FeedPipeline → store (new items and their
deliveries in one transaction), and sent by the real Outbox through DiscordSender and a
connected discord.py client to the loopback fake Discord (tests/fakediscord), which enforces
Discord's buckets (5 sends per 5 s per channel, 50 requests/s globally) and records every
request outside them. Each feed is followed by 3 channels of one guild (300 channels, so each
channel follows 10 feeds). Each cycle publishes one new item in `--new-per-cycle` feeds, polls
every feed once, and waits until every post has arrived.

Prints poll-to-post latency (item stored → Discord confirmed, from the store's timestamps)
p50/p99, posts/s, and the largest number of sends one channel got inside any 5 s window, plus
the fake's count of bucket violations (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import statistics
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord

from bot.config import load_settings
from bot.deliver.outbox import Outbox
from bot.deliver.senders import DiscordSender
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.ingest.poller import FeedPoller
from bot.store import Store
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer, rss_feed


class Feeds:
    def __init__(self, server: FeedServer, count: int) -> None:
        self.server = server
        self.items: list[list[dict[str, object]]] = [[] for _ in range(count)]
        self.clock = 1_700_000_000

    def path(self, index: int) -> str:
        return f"/feed/{index}.xml"

    def publish(self, index: int) -> None:
        items = self.items[index]
        number = len(items) + 1
        self.clock += 1
        items.append(
            {
                "title": f"Feed {index} post {number}",
                "link": f"https://news.example.com/{index}/{number}",
                "guid": f"{index}-{number}",
                "description": f"<p>Post {number} of feed {index}, with a little text.</p>",
                "pubDate": formatdate(self.clock, usegmt=True),
            }
        )
        recent = list(reversed(items))[:20]
        self.server.set(self.path(index), rss_feed(recent, title=f"Feed {index}"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    channels_per_feed = 3
    channel_count = max(channels_per_feed, args.feeds * channels_per_feed // 10)
    async with FakeDiscord.serve() as fake, FeedServer() as server:
        guild = fake.state.add_guild("Bench")
        channels = [
            fake.state.add_text_channel(guild.id, f"news-{n}").id for n in range(channel_count)
        ]
        feeds = Feeds(server, args.feeds)
        for index in range(args.feeds):
            feeds.publish(index)  # the archive item: polled first, never posted
        with tempfile.TemporaryDirectory() as folder:
            store = await Store.open(Path(folder) / "bench.db")
            settings = load_settings({"DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"})
            intents = discord.Intents.none()
            intents.guilds = True
            client = discord.Client(intents=intents, guild_ready_timeout=0.1)
            client_task = asyncio.create_task(client.start(fake.token))
            async with FeedFetcher(settings) as fetcher:
                pipeline = FeedPipeline(store, fetcher)
                poller = FeedPoller(store, pipeline, concurrency=32, per_host=32)
                now = time.time()
                for index in range(args.feeds):
                    await store.feeds.add(
                        server.url(feeds.path(index)),
                        interval_s=3600,
                        now=now,
                        first_poll_at=now + 3600,
                    )
                first = await poller.poll_due(all_feeds=True)
                assert all(o.ok for o in first), [o.error for o in first if not o.ok][:3]
                for row in await store.feeds.all():
                    index = int(row.url.rsplit("/", 1)[1].split(".")[0])
                    for k in range(channels_per_feed):
                        channel = channels[(index + k * (channel_count // 3)) % channel_count]
                        await store.subscriptions.add(guild.id, channel, row.id, now=now)
                for _ in range(500):
                    if client.guilds:
                        break
                    await asyncio.sleep(0.01)
                outbox = Outbox(store, DiscordSender(client), rate_per_s=args.rate)
                stop = asyncio.Event()
                worker = asyncio.create_task(outbox.run(stop))
                total_posts = 0
                started = time.perf_counter()
                poll_seconds: list[float] = []
                for cycle in range(args.cycles):
                    start_index = (cycle * args.new_per_cycle) % args.feeds
                    for k in range(args.new_per_cycle):
                        feeds.publish((start_index + k) % args.feeds)
                    polled_at = time.perf_counter()
                    await poller.poll_due(all_feeds=True)
                    poll_seconds.append(time.perf_counter() - polled_at)
                    outbox.wake()
                    total_posts += args.new_per_cycle * channels_per_feed
                    while True:
                        if (await store.deliveries.counts())["sent"] >= total_posts:
                            break
                        await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                stop.set()
                await worker
            await client.close()
            await client_task
            async with store.db.reader.execute(
                "SELECT d.sent_at - i.first_seen_at, d.sent_at FROM deliveries d "
                "JOIN items i ON i.id = d.item_id WHERE d.state = 'sent'"
            ) as cursor:
                rows = await cursor.fetchall()
            counts = await store.deliveries.counts()
            await store.close()
        latencies = [float(r[0]) for r in rows]
        sent_times = sorted(float(r[1]) for r in rows)
        sending_span = sent_times[-1] - sent_times[0] if len(sent_times) > 1 else 0.0
        worst_channel = max(fake.ratelimits.max_sends_in_window(c, 5.0) for c in channels)
        posts = sum(len(fake.bot_posts(c)) for c in channels)
        print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
        print(
            f"feeds={args.feeds} channels={channel_count} (3 per feed) cycles={args.cycles} "
            f"new items per cycle={args.new_per_cycle} outbox rate={args.rate}/s"
        )
        print(f"posts expected={total_posts} posted={posts} deliveries={dict(counts)}")
        print(f"poll of all {args.feeds} feeds: {statistics.mean(poll_seconds):.2f} s per cycle")
        print(
            f"poll-to-post latency: p50={percentile(latencies, 0.5):.2f} s "
            f"p99={percentile(latencies, 0.99):.2f} s max={max(latencies):.2f} s"
        )
        print(
            f"throughput: {posts / sending_span if sending_span else 0:.1f} posts/s while "
            f"sending ({elapsed:.1f} s for all cycles, polls included)"
        )
        print(
            f"most sends to one channel in any 5 s: {worst_channel} (limit 5); "
            f"most requests in any 1 s: {fake.ratelimits.max_global_in_window} (limit 50); "
            f"bucket violations recorded by the fake: {len(fake.ratelimits.violations)}"
        )
        if posts != total_posts or fake.ratelimits.violations:
            raise SystemExit("FAILED: lost/duplicated posts or a bucket was exceeded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--new-per-cycle", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="outbox requests per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
