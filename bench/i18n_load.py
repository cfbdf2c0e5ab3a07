"""Benchmark what speaking Japanese costs a process: the first use of a language compiles its
.po in memory (Babel's read_po + write_mo, bot/i18n), and every message is then a dict lookup.

    .venv/bin/python bench/i18n_load.py

Each load runs in a fresh interpreter (the compiled catalogue is cached per process), so the
figure includes importing Babel; the median of 7 runs is printed, with the catalogue's size.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.i18n import _, po_path, use_locale  # noqa: E402  (after the sys.path line)

RUNS = 7
ONE_LOAD = """
import time
t = time.perf_counter()
from bot.i18n import translator
translator("ja").gettext("Friday")
print(time.perf_counter() - t)
"""


def first_use_seconds() -> float:
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", ONE_LOAD],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for _run in range(RUNS)
    ]
    return statistics.median(runs)


def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}")
    size = po_path("ja").stat().st_size
    print(f"ja catalogue: {size / 1024:.1f} KiB")
    print(f"first use of ja (import Babel, read_po, write_mo): {first_use_seconds() * 1e3:.1f} ms")
    with use_locale("ja"):
        n = 100_000
        per = timeit.timeit(lambda: _("feed {number}", number=7), number=n) / n
    print(f"one message afterwards (lookup + format): {per * 1e6:.2f} µs")


if __name__ == "__main__":
    main()
