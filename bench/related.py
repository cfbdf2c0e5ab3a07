"""Benchmark the Related line: the related-items lookup a post makes, per post, on generated
archives of 20,000 and 200,000 items.

    .venv/bin/python bench/related.py                 # both sizes, 200 posts each
    .venv/bin/python bench/related.py --sizes 20000   # one size
    .venv/bin/python bench/related.py --reuse         # reuse bench/search.py's archive

The archive is bench/search.py's (bench/archive.py's newsletters, written through the real
schema; `--reuse` takes the database bench/search.py built). Each "post" is one
call of the real `RelatedStore.related` (as bot.features.posts.related_line.post_related
makes it: the three closest earlier items of the guild above the threshold) for a random
archived item, on the real aiosqlite reader: for a guild following every newsletter and one
following 20.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search import WORK, _pct, build, feeds_for
from bot.features.posts.related_line import POST_MIN_SCORE, POST_RELATED
from bot.store.db import Database
from bot.store.related import RelatedStore


async def measure(
    path: Path, items: int, feed_ids: list[int], posts: int
) -> tuple[list[float], float]:
    """Milliseconds per lookup, and the share of posts that got a Related line."""
    db = await Database.open(path)
    try:
        related = RelatedStore(db)
        rng = random.Random(5)
        seeds = [rng.randint(1, items) for _ in range(posts + 20)]
        published = {
            int(r[0]): float(r[1])
            for r in await db.reader.execute_fetchall(
                f"SELECT id, published_at FROM items WHERE id IN ({','.join(map(str, seeds))})"
            )
        }
        for seed in seeds[:20]:  # warm the reader and the page cache a little
            await related.related(seed, feed_ids, limit=POST_RELATED, before=published[seed])
        times: list[float] = []
        lines = 0
        for seed in seeds[20:]:
            started = time.perf_counter()
            found = await related.related(
                seed, feed_ids, limit=POST_RELATED, before=published[seed], min_score=POST_MIN_SCORE
            )
            times.append((time.perf_counter() - started) * 1000)
            lines += bool(found)
        return times, lines / posts
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="reuse an existing archive")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    for items in args.sizes:
        path = WORK / f"search-{items}.db"
        feeds = feeds_for(items)
        if args.reuse and path.exists():
            print(f"\n{items} items ({feeds} newsletters): reusing {path}")
        else:
            seconds, size = build(path, items)
            mib = size / 2**20
            print(f"\n{items} items ({feeds} newsletters): built in {seconds:.1f} s, {mib:.0f} MiB")
        everything = list(range(1, feeds + 1))
        for scope, feed_ids in (
            ("whole archive", everything),
            ("guild of 20 feeds", everything[:20]),
        ):
            times, share = asyncio.run(measure(path, items, feed_ids, args.posts))
            print(
                f"  {scope:18} {len(times)} posts: p50 {_pct(times, 50):.1f} ms, "
                f"p90 {_pct(times, 90):.1f} ms, p99 {_pct(times, 99):.1f} ms, "
                f"max {max(times):.1f} ms; {share:.0%} got a Related line"
            )


if __name__ == "__main__":
    main()
