"""Benchmark routing new items with feed filters: one feed followed by 1,000 channels.

    .venv/bin/python bench/filters.py                    # 1,000 subscriptions, 0/100/1,000 filtered
    .venv/bin/python bench/filters.py --items 200 --body-words 1500

A real SQLite store in a temporary folder; one feed with `--subscriptions` instant-mode
channels, of which 0, 100 and all carry a filter (distinct per channel: an include query with an
OR, an exclude query with a three-word phrase, a case-insensitive RE2 pattern; every filter
compiles once and stays cached). Nearly every item passes every filter, so each run queues about
as many deliveries and the difference between runs is the filters' own cost. Each poll commits
`--batch` new items (title, summary and a body of `--body-words` words) through `commit_poll`
with the bot's filter gate, the path a real poll takes: items stored and indexed, then routed
(the filtered subscriptions' rules checked, a delivery queued for each channel that lets the
item through), in one transaction.

Prints per new item: the whole commit, and the filter cost over the unfiltered run, also per
100 filtered subscriptions (the target: under 0.5 ms per item per 100 filtered subscriptions),
plus the gate alone (pure Python: tokenizing the item once and checking every filter).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.features.feeds.filters import check_filters
from bot.model import EnrichedItem, Entry, FeedFilter, ItemText
from bot.store import Store
from bot.store.items import FreshItem
from bot.store.polls import PollSuccess, commit_poll

WORDS = [
    "model",
    "release",
    "open",
    "weights",
    "training",
    "data",
    "benchmark",
    "rust",
    "python",
    "compiler",
    "policy",
    "safety",
    "agent",
    "robotics",
    "chip",
    "startup",
    "funding",
    "sponsored",
    "giveaway",
    "podcast",
    "interview",
    "review",
    "paper",
    "research",
    "scaling",
    "inference",
    "latency",
    "memory",
    "kernel",
    "database",
    "search",
    "newsletter",
    "launch",
]


def make_filter(n: int, rng: random.Random) -> FeedFilter:
    a, b, c = rng.sample(WORDS, 3)
    return FeedFilter(
        include=f"{a} OR {b} OR topic{n}",
        exclude=f'"{c} {a} {b}" OR sponsored{n}',
        pattern=rf"(?i)^\[(ad|promo{n})\]",
    )


def make_item(n: int, rng: random.Random, body_words: int) -> FreshItem:
    title = " ".join(rng.choices(WORDS, k=8)).capitalize()
    summary = " ".join(rng.choices(WORDS, k=40))
    body = " ".join(rng.choices(WORDS, k=body_words))
    stable_id = f"item-{n}"
    entry = Entry(
        stable_id=stable_id,
        title=title,
        url=f"https://bench.example.com/p/{n}",
        author="Bench",
        published=None,
        content_html=f"<p>{body}</p>",
        description_html="",
    )
    digest = hashlib.sha256(f"{stable_id}|{title}".encode()).hexdigest()
    return FreshItem(EnrichedItem(entry, body, summary, None, digest), digest)


async def run(filtered: int, args: argparse.Namespace, folder: Path) -> list[float]:
    """Seconds per new item of each poll, with `filtered` of the subscriptions filtering."""
    rng = random.Random(7)
    store = await Store.open(folder / f"bench-{filtered}.db")
    try:
        now = 1_700_000_000.0
        feed = await store.feeds.add(
            "https://bench.example.com/feed", interval_s=900, now=now, first_poll_at=now
        )
        for channel in range(args.subscriptions):
            row, _ = await store.subscriptions.add(1, 10_000 + channel, feed.id, now=now)
            if channel < filtered:
                await store.subscriptions.set_filter(row.id, make_filter(channel, rng), now)
        success = PollSuccess(now, now + 900, None, None, None, None)
        await commit_poll(store.db, feed.id, [make_item(-1, rng, 10)], success)  # the archive
        per_item: list[float] = []
        serial = 0
        for _ in range(args.items // args.batch):
            batch = [make_item(serial + i, rng, args.body_words) for i in range(args.batch)]
            serial += args.batch
            started = time.perf_counter()
            await commit_poll(store.db, feed.id, batch, success, filter_gate=check_filters)
            per_item.append((time.perf_counter() - started) / args.batch)
        return per_item
    finally:
        await store.close()


def gate_alone(args: argparse.Namespace) -> float:
    """Seconds per item for check_filters over every subscription's filter."""
    rng = random.Random(7)
    filters = [make_filter(n, rng) for n in range(args.subscriptions)]
    items = [make_item(n, rng, args.body_words).item for n in range(args.items)]
    texts = [
        ItemText(n, None, i.entry.title, i.summary, i.content_text) for n, i in enumerate(items)
    ]
    check_filters(filters, texts[0])  # compile (and cache) every filter first
    started = time.perf_counter()
    for text in texts:
        check_filters(filters, text)
    return (time.perf_counter() - started) / len(texts)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--batch", type=int, default=5, help="new items per poll")
    parser.add_argument("--body-words", type=int, default=800)
    args = parser.parse_args()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.subscriptions} subscriptions of one feed, {args.items} new items in polls of "
        f"{args.batch}, bodies of {args.body_words} words"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[int, float] = {}
        for filtered in (0, min(100, args.subscriptions), args.subscriptions):
            per_item = await run(filtered, args, Path(tmp))
            results[filtered] = statistics.median(per_item)
            print(
                f"  {filtered:>5} filtered: commit + route {results[filtered] * 1000:7.2f} ms "
                f"per new item (median of {len(per_item)} polls)"
            )
        base = results[0]
        for filtered, seconds in results.items():
            if filtered:
                extra = (seconds - base) * 1000
                print(
                    f"  filters' cost with {filtered} filtered: {extra:.2f} ms per item = "
                    f"{extra / (filtered / 100):.3f} ms per item per 100 filtered subscriptions"
                )
    alone = gate_alone(args)
    print(
        f"  the gate alone, {args.subscriptions} filters: {alone * 1000:.2f} ms per item = "
        f"{alone * 1000 / (args.subscriptions / 100):.3f} ms per item per 100 filters"
    )


if __name__ == "__main__":
    asyncio.run(main())
