"""Benchmark the topic percolator: 1k, 10k and 100k followed topics against 1,000 new items.

    .venv/bin/python bench/percolate.py
    .venv/bin/python bench/percolate.py --topics 100000 --items 1000
    .venv/bin/python bench/percolate.py --topics 100000 --longer 4   # ~1,400-word items

Topics are what members follow: 1–3 words drawn from the same Zipf-like vocabulary as the
generated archive (so popular words are followed by many), quoted phrases, some OR and some
exclusions, some Japanese. Items come from the archive generator (bench/archive.py), with their
title, summary and body. Per item the time covers the whole match: tokenizing the three fields
(same normalizer as the index), the Aho-Corasick pass and the exact checks. Memory is what the
built percolator holds (tracemalloc, in a separate build since tracing slows allocation) and the
process RSS growth while building it.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.archive import JAPANESE, TECH, ArchiveGenerator
from bot.model import Query
from bot.search.percolator import Percolator
from bot.search.query import parse_query

PASSES = 3  # the machine may be shared: report the best pass's CPU time per item


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_topics(count: int, gen: ArchiveGenerator, seed: int = 3) -> list[tuple[int, Query]]:
    rng = random.Random(seed)
    vocab = gen.vocab
    mid = vocab[300:3000]
    tail = vocab[3000:]

    def word() -> str:
        roll = rng.random()
        if roll < 0.05:
            return rng.choice(TECH)  # ~120 popular subjects, followed by many members
        if roll < 0.3:
            return rng.choice(mid)  # subjects a few percent of posts mention
        return rng.choice(tail)  # names, products, niche subjects

    topics: list[tuple[int, Query]] = []
    while len(topics) < count:
        roll = rng.random()
        if roll < 0.45:
            text = " ".join(word() for _ in range(rng.randint(1, 2)))
        elif roll < 0.7:
            text = '"' + " ".join(word() for _ in range(rng.randint(2, 3))) + '"'
        elif roll < 0.8:
            text = f"{word()} OR {word()}"
        elif roll < 0.9:
            text = f"{word()} {word()} -{word()}"
        elif roll < 0.95:
            text = rng.choice(JAPANESE)
        else:
            text = f'"{word()} {word()}" {word()}'
        query = parse_query(text)
        if query is not None and query.problem is None:
            topics.append((len(topics) + 1, query))
    return topics


def run(topic_count: int, item_count: int, longer: int) -> None:
    gen = ArchiveGenerator(item_count, 300)
    extra = ArchiveGenerator(item_count * longer, 300, seed=99)
    bodies = iter(extra)
    items = [
        (d.title, d.summary, " ".join([d.text] + [next(bodies).text for _ in range(longer)]))
        for d in gen
    ]
    topics = make_topics(topic_count, gen)
    gc.collect()
    tracemalloc.start()
    probe = Percolator(topics)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del probe
    gc.collect()
    rss_before = rss_mib()
    started = time.perf_counter()
    percolator = Percolator(topics)
    build_s = time.perf_counter() - started
    gc.collect()
    rss_growth = rss_mib() - rss_before
    percolator.match(items[0])  # warm the normalizer's table
    times: list[float] = []
    cpu_passes: list[float] = []
    matched = 0
    for _ in range(PASSES):
        times.clear()
        matched = 0
        started_cpu = time.process_time()
        for fields in items:
            started = time.perf_counter()
            found = percolator.match(fields)
            times.append((time.perf_counter() - started) * 1000)
            matched += len(found)
        cpu_passes.append((time.process_time() - started_cpu) * 1000 / item_count)
    times.sort()
    words = statistics.fmean(sum(len(f.split()) for f in fields) for fields in items)
    print(
        f"{topic_count:>7} topics: build {build_s * 1000:.0f} ms, memory {traced / 2**20:.1f} MiB "
        f"traced / {rss_growth:.1f} MiB RSS; {item_count} items (~{words:.0f} words): "
        f"CPU {min(cpu_passes):.3f} ms/item (best of {PASSES} passes); last pass wall "
        f"mean {statistics.fmean(times):.3f} ms, p50 {times[len(times) // 2]:.3f}, "
        f"p99 {times[int(len(times) * 0.99)]:.3f}; {matched / item_count:.1f} topics matched/item"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topics", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument(
        "--longer", type=int, default=0, help="append this many more bodies to each item's text"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for count in args.topics:
        run(count, args.items, args.longer)


if __name__ == "__main__":
    main()
