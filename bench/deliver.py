"""Benchmark channel delivery: 1,000 feeds × 3 channels, the real bot against the fake Discord.

    .venv/bin/python bench/deliver.py                        # 1000 feeds, 3 cycles, 100 new items
    .venv/bin/python bench/deliver.py --new-per-cycle 1000   # every feed has news every cycle
    .venv/bin/python bench/deliver.py --feeds 200 --cycles 2 # a quick run
    .venv/bin/python bench/deliver.py --feeds 500 --cycles 1 --new-per-cycle 500 \
        --poll-interval 5 --singles 20                       # the issue 18 budget check

Everything is the real bot except Discord and the feeds: `Runtime` (store, fetcher, poller with
`poll_interval_s`, outbox, scheduler) and `DigestBot` (discord.py, `DiscordSender`) run in this
process against the loopback fake Discord (tests/fakediscord), which enforces Discord's buckets
(5 sends per 5 s per channel, 50 requests/s) and records every request outside them. Feeds are
served by the loopback feed server (tests/feedserver.py) with ETags, so an unchanged feed costs
a 304. Subscriptions are made through the same service `/feed add` calls (backfill 0).

One guild with 300 channels; each feed is followed by 3 of them (each channel follows 10
feeds). Each cycle publishes one new item in `--new-per-cycle` feeds and waits until every post
has arrived. Prints, over all cycles:
- poll-to-post latency: the item stored by the poller → Discord confirmed the post
  (the store's `first_seen_at` and `sent_at`), p50/p99/max;
- publish-to-post latency: the item appeared on the feed server → posted (adds the wait for
  the feed's next poll, at most one poll interval when the poller keeps up);
- posts/s while sending (first to last post), and sustained (the middle 80% of the posts, without
  the ramp-up while the first polls come in and the tail of the last channels' buckets);
- then `--singles` times, one new item in one feed alone (its 3 posts): poll-to-post p50/p99;
- the fake's bucket checks: the busiest 5 s of a channel and 1 s of the bot, and every request
  outside a bucket (per channel or global; each would have been a 429).
Exits non-zero if a post is missing, duplicated, or any bucket was exceeded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from email.utils import formatdate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import DigestBot
from bot.config import FetchAllowList, Settings
from bot.runtime import Runtime
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer, rss_feed

CHANNELS_PER_FEED = 3
FEEDS_PER_CHANNEL = 10


class Feeds:
    """The feeds on the loopback server; `publish` adds one item to a feed (new ETag)."""

    def __init__(self, server: FeedServer, count: int) -> None:
        self.server = server
        self.items: list[list[dict[str, object]]] = [[] for _ in range(count)]
        self.published_at: dict[str, float] = {}  # item link → when it appeared
        self.clock = 1_700_000_000

    @staticmethod
    def path(index: int) -> str:
        return f"/feed/{index}.xml"

    def publish(self, index: int) -> None:
        items = self.items[index]
        number = len(items) + 1
        self.clock += 1
        link = f"https://news.example.com/{index}/{number}"
        items.append(
            {
                "title": f"Feed {index} post {number}",
                "link": link,
                "guid": f"{index}-{number}",
                "description": f"<p>Post {number} of feed {index}, with a little text.</p>",
                "pubDate": formatdate(self.clock, usegmt=True),
            }
        )
        newest = list(reversed(items))[:20]
        self.server.set(
            self.path(index), rss_feed(newest, title=f"Feed {index}"), etag=f'"{index}-{number}"'
        )
        self.published_at[link] = time.time()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def sustained_rate(times: list[float]) -> float:
    """Posts/s over the middle 80% of the sorted send times."""
    if len(times) < 10:
        return 0.0
    first, last = round(0.1 * (len(times) - 1)), round(0.9 * (len(times) - 1))
    span = times[last] - times[first]
    return (last - first) / span if span > 0 else 0.0


@dataclasses.dataclass
class Sample:
    delivery_id: int
    poll_to_post: float
    publish_to_post: float
    sent_at: float


async def wait_for_sent(runtime: Runtime, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while (await runtime.store.deliveries.counts())["sent"] < expected:
        if time.monotonic() > deadline:
            counts = await runtime.store.deliveries.counts()
            raise SystemExit(
                f"FAILED: only {counts['sent']} of {expected} posts after {timeout_s}s"
            )
        await asyncio.sleep(0.05)


async def samples(runtime: Runtime, feeds: Feeds, channels: list[int]) -> list[Sample]:
    """Latency of every sent item delivery (store timestamps + the feed server's)."""
    store = runtime.store
    found: list[Sample] = []
    for channel in channels:
        rows = await store.deliveries.for_target("channel", channel, "sent")
        items = {i.id: i for i in await store.items.many([d.item_id for d in rows if d.item_id])}
        for row in rows:
            item = items.get(row.item_id or -1)
            if item is None or row.sent_at is None:
                continue
            published = feeds.published_at.get(item.url or "", item.first_seen_at)
            found.append(
                Sample(
                    row.id, row.sent_at - item.first_seen_at, row.sent_at - published, row.sent_at
                )
            )
    return found


async def run(args: argparse.Namespace) -> None:
    channel_count = max(CHANNELS_PER_FEED, args.feeds * CHANNELS_PER_FEED // FEEDS_PER_CHANNEL)
    async with FakeDiscord.serve() as fake, FeedServer() as server:
        guild = fake.state.add_guild("Bench")
        channels = [
            fake.state.add_text_channel(guild.id, f"news-{n}").id for n in range(channel_count)
        ]
        feeds = Feeds(server, args.feeds)
        for index in range(args.feeds):
            feeds.publish(index)  # archived when subscribed, never posted
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                discord_token=fake.token,
                db_path=Path(folder) / "bench.db",
                poll_interval_s=args.poll_interval,
                fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
                poll_concurrency=args.poll_concurrency,
                poll_per_host=args.poll_concurrency,
                log_level="WARNING",
            )
            runtime = await Runtime.open(settings)
            bot = DigestBot(runtime, guild_ready_timeout=0.1)
            bot_task = asyncio.create_task(bot.start(fake.token))
            try:
                await fake.wait_until(lambda: bot.is_ready() or bot_task.done(), timeout=30)
                if bot_task.done():
                    bot_task.result()
                setup_started = time.perf_counter()
                gate = asyncio.Semaphore(args.poll_concurrency)

                async def subscribe(index: int) -> None:
                    async with gate:
                        for k in range(CHANNELS_PER_FEED):
                            offset = k * (channel_count // CHANNELS_PER_FEED)
                            await runtime.subscriptions.subscribe(
                                guild_id=guild.id,
                                channel_id=channels[(index + offset) % channel_count],
                                url=server.url(feeds.path(index)),
                                backfill=0,
                            )

                await asyncio.gather(*(subscribe(i) for i in range(args.feeds)))
                setup_s = time.perf_counter() - setup_started
                expected = 0
                started = time.perf_counter()
                for cycle in range(args.cycles):
                    first = (cycle * args.new_per_cycle) % args.feeds
                    for k in range(args.new_per_cycle):
                        feeds.publish((first + k) % args.feeds)
                    expected += args.new_per_cycle * CHANNELS_PER_FEED
                    await wait_for_sent(runtime, expected, args.timeout)
                elapsed = time.perf_counter() - started
                found = await samples(runtime, feeds, channels)
                burst = {s.delivery_id for s in found}
                for single in range(args.singles):
                    feeds.publish(single % args.feeds)
                    expected += CHANNELS_PER_FEED
                    await wait_for_sent(runtime, expected, args.timeout)
                singles = [
                    s for s in await samples(runtime, feeds, channels) if s.delivery_id not in burst
                ]
                counts = await runtime.store.deliveries.counts()
                polls = sum(server.hits(feeds.path(i)) for i in range(args.feeds))
            finally:
                await bot.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(bot_task, timeout=10)
                await runtime.close()

        posts = [m for c in channels for m in fake.bot_posts(c)]
        duplicates = [
            key
            for key, n in Counter((m.channel_id, str(m.embeds[0]["url"])) for m in posts).items()
            if n > 1
        ]
        violations = fake.ratelimits.channel_violations()
        worst_channel = max(fake.ratelimits.max_sends_in_window(c, 5.0) for c in channels)
        sent_times = sorted(s.sent_at for s in found)
        span = sent_times[-1] - sent_times[0] if len(sent_times) > 1 else 0.0
        poll_to_post = [s.poll_to_post for s in found]
        publish_to_post = [s.publish_to_post for s in found]

        print(
            f"machine: {os.cpu_count()} CPU(s) (nproc {len(os.sched_getaffinity(0))}), "
            f"{platform.machine()}, {platform.system()} {platform.release()}, "
            f"python {platform.python_version()}"
        )
        print(
            f"feeds={args.feeds} channels={channel_count} ({CHANNELS_PER_FEED} per feed, "
            f"{FEEDS_PER_CHANNEL} feeds per channel) cycles={args.cycles} "
            f"new items per cycle={args.new_per_cycle} poll interval={args.poll_interval:g}s"
        )
        print(
            f"subscribing {args.feeds * CHANNELS_PER_FEED} channel-feeds (fetching {args.feeds} "
            f"feeds): {setup_s:.1f} s; feed requests during the run: {polls}"
        )
        print(
            f"posts expected={expected} posted={len(posts)} duplicates={len(duplicates)} "
            f"deliveries: sent={counts['sent']} failed={counts['failed']} "
            f"pending={counts['pending']}"
        )
        print(
            f"poll-to-post latency: p50={percentile(poll_to_post, 0.5):.2f} s "
            f"p99={percentile(poll_to_post, 0.99):.2f} s max={max(poll_to_post):.2f} s"
        )
        print(
            f"publish-to-post latency: p50={percentile(publish_to_post, 0.5):.2f} s "
            f"p99={percentile(publish_to_post, 0.99):.2f} s max={max(publish_to_post):.2f} s"
        )
        print(
            f"throughput: {len(found) / span if span else 0:.1f} posts/s while sending, "
            f"{sustained_rate(sent_times):.1f} posts/s sustained (middle 80%) "
            f"({elapsed:.1f} s for {args.cycles} cycles)"
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
            f"most requests in any 1 s = {fake.ratelimits.max_global_in_window} (limit 50; "
            f"{fake.ratelimits.max_requests_in_window(1.0)} in a sliding second); "
            f"per-channel violations = {len(violations)}; "
            f"all violations (overruns) = {len(fake.ratelimits.violations)}"
        )
        if len(posts) != expected or duplicates or fake.ratelimits.violations:
            raise SystemExit("FAILED: lost or duplicated posts, or a channel bucket was exceeded")
        print("OK: every item posted once in each subscribed channel; no bucket exceeded")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--new-per-cycle", type=int, default=100, help="feeds with a new item")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--poll-concurrency", type=int, default=32)
    parser.add_argument("--singles", type=int, default=10, help="single items, one at a time")
    parser.add_argument("--timeout", type=float, default=900.0, help="per cycle, seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
