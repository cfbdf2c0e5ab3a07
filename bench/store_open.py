"""Benchmark the start-up check of the database: `PRAGMA quick_check` (every command and the
bot run it before writing, so a damaged file is refused instead of damaged further) and the
whole `Database.open` around it, on generated archives of 20,000 and 200,000 items.

    .venv/bin/python bench/store_open.py                 # both sizes
    .venv/bin/python bench/store_open.py --sizes 20000   # one size
    .venv/bin/python bench/store_open.py --reuse         # reuse bench/search.py's archives

The archives are bench/search.py's (same generator, same bulk path, in bench/.work/). Each
figure is the median of 5 runs with the file in the page cache (a warm start; a cold start
after a reboot reads the whole file once more from disk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search import WORK, build
from bot.store.db import Database, check_database_file

RUNS = 5


async def _open_close(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def measure(path: Path) -> tuple[float, float]:
    """Median seconds of (the quick_check alone, a whole Database.open + close)."""
    check_database_file(path)  # warm the page cache
    checks: list[float] = []
    opens: list[float] = []
    for _ in range(RUNS):
        started = time.perf_counter()
        check_database_file(path)
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        asyncio.run(_open_close(path))
        opens.append(time.perf_counter() - started)
    return statistics.median(checks), statistics.median(opens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--reuse", action="store_true", help="reuse an existing archive")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    for items in args.sizes:
        path = WORK / f"search-{items}.db"
        if not (args.reuse and path.exists()):
            build(path, items)
        check_s, open_s = measure(path)
        print(
            f"{items} items, {path.stat().st_size / 2**20:.0f} MiB: quick_check "
            f"{check_s * 1000:.0f} ms, Database.open + close {open_s * 1000:.0f} ms "
            f"(median of {RUNS})"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
