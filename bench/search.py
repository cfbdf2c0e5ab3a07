"""Benchmark /search: top-10 with snippets over generated archives of 20,000 and 200,000 items.

    .venv/bin/python bench/search.py                 # both sizes, 200 queries each
    .venv/bin/python bench/search.py --sizes 20000   # one size
    .venv/bin/python bench/search.py --reuse         # keep an archive built by an earlier run
    .venv/bin/python bench/search.py --baseline      # also time a plain FTS5 bm25 query

The archive is generated (bench/archive.py: many newsletters, Zipf-like shared vocabulary with
very common words, per-newsletter pet words, some Japanese newsletters) and written through the
store's schema (Database.open runs the real migrations) with a bulk path: items rows exactly as
bot.store.items.save_items writes them (CJK-spaced; the schema's triggers index them), in
transactions of 2,000 items like a busy poller, with no extra index maintenance. Queries run
through the real `bot.store.search.search_items` on the real aiosqlite reader: the whole guild
(every feed) and a guild following 20 of the newsletters. Databases go to bench/.work/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.archive import ArchiveGenerator
from bot.model import Query
from bot.search.query import parse_query
from bot.store.cjk import space_cjk
from bot.store.db import Database
from bot.store.search import search_items, to_fts5

WORK = Path(__file__).resolve().parent / ".work"
BATCH = 2000


def feeds_for(items: int) -> int:
    return max(50, items // 330)


async def _create(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def build(path: Path, items: int) -> tuple[float, int]:
    """Generate and write the archive; (seconds, bytes)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    asyncio.run(_create(path))
    started = time.perf_counter()
    feeds = feeds_for(items)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO feeds (id, url, title, interval_s, next_poll_at, created_at) "
        "VALUES (?, ?, ?, 900, 0, 0)",
        [(f + 1, f"https://news{f}.example/feed", f"Newsletter {f}") for f in range(feeds)],
    )
    conn.execute("COMMIT")
    rows: list[tuple[object, ...]] = []

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO items (id, feed_id, stable_id, raw_hash, content_hash, url, title, "
            "author, published_at, first_seen_at, content_text, summary, fts_title, fts_summary) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
        rows.clear()

    for n, doc in enumerate(ArchiveGenerator(items, feeds), 1):
        digest = hashlib.sha256(str(n).encode()).hexdigest()
        rows.append(
            (
                n,
                doc.feed + 1,
                f"id{n}",
                digest,
                digest,
                f"https://news{doc.feed}.example/p/{n}",
                doc.title,
                doc.author,
                doc.published,
                doc.published,
                space_cjk(doc.text),
                doc.summary,
                space_cjk(doc.title) if space_cjk(doc.title) != doc.title else None,
                space_cjk(doc.summary) if space_cjk(doc.summary) != doc.summary else None,
            )
        )
        if len(rows) >= BATCH:
            flush()
    if rows:
        flush()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started, path.stat().st_size


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def plain_fts5(db: Database, query: Query, feed_ids: list[int]) -> None:
    """The baseline: one FTS5 query ranking every match by bm25, then the page's snippets."""
    fts = to_fts5(query)
    assert isinstance(fts, str)
    marks = ",".join("?" * len(feed_ids))
    async with db.reader.execute(
        "SELECT f.rowid FROM items_fts f JOIN items i ON i.id = f.rowid WHERE items_fts MATCH ? "
        f"AND i.feed_id IN ({marks}) ORDER BY bm25(items_fts, 10.0, 3.0, 1.0) LIMIT 11",
        (fts, *feed_ids),
    ) as cursor:
        ids = [int(r[0]) for r in await cursor.fetchall()][:10]
    if ids:
        async with db.reader.execute(
            "SELECT rowid, snippet(items_fts, -1, '[', ']', '…', 24) FROM items_fts "
            f"WHERE items_fts MATCH ? AND rowid IN ({','.join(map(str, ids))})",
            (fts,),
        ) as cursor:
            await cursor.fetchall()


async def measure(
    path: Path, queries: list[str], feed_ids: list[int], *, baseline: bool = False
) -> tuple[list[float], list[float], list[tuple[float, str]]]:
    """Wall-clock and CPU milliseconds per query (CPU counts every thread of the process, so
    it shows the work even when other processes share the cores), and the slowest queries."""
    db = await Database.open(path)
    try:
        parsed = [parse_query(q) for q in queries]
        for query in parsed[:20]:  # warm the reader connection and the page cache a little
            if query is not None:
                await search_items(db, query, feed_ids=feed_ids)
        times: list[float] = []
        cpu: list[float] = []
        for query in parsed:
            assert query is not None
            started, started_cpu = time.perf_counter(), time.process_time()
            if baseline:
                await plain_fts5(db, query, feed_ids)
            else:
                page = await search_items(db, query, feed_ids=feed_ids, limit=10)
                for hit in page.hits:
                    assert hit.snippet is not None
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        slowest = sorted(zip(times, queries, strict=True), reverse=True)[:3]
        return times, cpu, slowest
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="reuse an existing archive")
    parser.add_argument(
        "--baseline", action="store_true", help="also time a plain FTS5 bm25 query (whole archive)"
    )
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
            print(
                f"\n{items} items ({feeds} newsletters): built in {seconds:.1f} s, "
                f"database {size / 2**20:.0f} MiB"
            )
        queries = ArchiveGenerator(0, feeds).queries(args.queries)
        everything = list(range(1, feeds + 1))
        runs = [("whole archive", everything, False), ("guild of 20 feeds", everything[:20], False)]
        if args.baseline:
            runs.append(("plain FTS5 (whole)", everything, True))
        for scope, feed_ids, baseline in runs:
            times, cpu, slowest = asyncio.run(measure(path, queries, feed_ids, baseline=baseline))
            print(
                f"  {scope:18} {len(times)} queries, top-10 with snippets: "
                f"p50 {_pct(times, 50):.1f} ms, p90 {_pct(times, 90):.1f} ms, "
                f"p99 {_pct(times, 99):.1f} ms, max {max(times):.1f} ms, "
                f"mean {statistics.fmean(times):.1f} ms\n"
                f"  {'':18} CPU per query: p50 {_pct(cpu, 50):.1f} ms, p99 {_pct(cpu, 99):.1f} ms; "
                f"slowest: " + ", ".join(f"{q!r} {t:.0f} ms" for t, q in slowest)
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
