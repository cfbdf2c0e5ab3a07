"""Benchmark /search on PostgreSQL beside SQLite: the same archive, queries and code path.

    .venv/bin/python bench/search_pg.py                  # 20,000 and 200,000 items
    .venv/bin/python bench/search_pg.py --sizes 20000    # one size
    .venv/bin/python bench/search_pg.py --reuse          # reuse bench/search.py's SQLite archive
    DIGESTBOT_BENCH_PG_URL=… bench/search_pg.py --reuse  # … and a PostgreSQL copy made earlier

The SQLite archive is bench/search.py's (built here if missing); `digestbot migrate-to`'s copy
(bot.store.transfer) moves it into PostgreSQL, building the tsvector index of every item.
PostgreSQL is a throwaway local server (tests/pgserver.py: Debian's package, fsync off, default
settings otherwise), or DIGESTBOT_BENCH_PG_URL (an empty database). Queries run through
`bot.store.search.search_items` on each backend's reader: top 10 with snippets, the whole
archive and a guild of 20 feeds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.archive import ArchiveGenerator
from bench.search import WORK, _pct, build, feeds_for
from bot.search.query import parse_query
from bot.store import Store
from bot.store.search import search_items
from bot.store.transfer import migrate_to


@contextmanager
def server() -> Iterator[str]:
    given = os.environ.get("DIGESTBOT_BENCH_PG_URL")
    if given:
        yield given
        return
    from tests.pgserver import running_server

    with running_server() as url:
        yield url


def database(url: str, name: str, *, reuse: bool) -> tuple[str, bool]:
    """The URL of the benchmark's database; and whether it holds a copy made earlier (kept
    with `reuse`: only the migrations the store has gained since then run on it)."""
    from tests.pgserver import admin, with_database

    target = with_database(url, name)
    if reuse and asyncio.run(_copied(target)):
        return target, True
    admin(url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name} TEMPLATE template0")
    return target, False


async def _copied(target: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(target)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        found = await conn.fetchval("SELECT to_regclass('items') IS NOT NULL")
        return bool(found) and bool(await conn.fetchval("SELECT count(*) FROM items"))
    finally:
        await conn.close()


async def measure(
    target: str, queries: list[str], feed_ids: list[int]
) -> tuple[list[float], list[tuple[float, str]]]:
    """Milliseconds per query, and the slowest queries."""
    store = await Store.open(target)
    try:
        parsed = [parse_query(q) for q in queries]
        for query in parsed[:20]:  # warm up
            assert query is not None
            await search_items(store.db, query, feed_ids=feed_ids)
        times: list[float] = []
        for query in parsed:
            assert query is not None
            started = time.perf_counter()
            await search_items(store.db, query, feed_ids=feed_ids, limit=10)
            times.append((time.perf_counter() - started) * 1000)
        return times, sorted(zip(times, queries, strict=True), reverse=True)[:3]
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the SQLite archive and PostgreSQL copy"
    )
    parser.add_argument("--pg-only", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with server() as url:
        for items in args.sizes:
            path = WORK / f"search-{items}.db"
            feeds = feeds_for(items)
            if not (args.reuse and path.exists()):
                build(path, items)
            target, kept = database(url, f"bench_search_{items}", reuse=args.reuse)
            if kept:
                print(f"\n{items} items ({feeds} newsletters): PostgreSQL copy reused")
            else:
                started = time.perf_counter()
                report = asyncio.run(migrate_to(path, target))
                print(
                    f"\n{items} items ({feeds} newsletters): copied and indexed into PostgreSQL "
                    f"in {time.perf_counter() - started:.1f} s ({report.counts['items']} items)"
                )
            queries = ArchiveGenerator(0, feeds).queries(args.queries)
            everything = list(range(1, feeds + 1))
            for scope, feed_ids in (
                ("whole archive", everything),
                ("guild of 20", everything[:20]),
            ):
                backends = [("SQLite", str(path)), ("PostgreSQL", target)]
                for backend, where in backends[1:] if args.pg_only else backends:
                    times, slowest = asyncio.run(measure(where, queries, feed_ids))
                    print(
                        f"  {scope:14} {backend:10} p50 {_pct(times, 50):6.1f} ms, "
                        f"p90 {_pct(times, 90):6.1f} ms, p99 {_pct(times, 99):6.1f} ms, "
                        f"mean {statistics.fmean(times):6.1f} ms; slowest: "
                        + ", ".join(f"{q!r} {t:.0f} ms" for t, q in slowest)
                    )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
