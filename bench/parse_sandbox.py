"""Parse sandbox overhead: parse_feed in this thread vs in the bounded worker process.

    .venv/bin/python -m bench.parse_sandbox [--rounds 50]

Prints, per feed size, the wall time per feed for each path (warm worker) and the difference,
plus the time to start a worker. The worker adds a process hop: the body goes in over a pipe,
the parsed feed comes back as JSON.
"""

from __future__ import annotations

import argparse
import time

from bench.corpus import feed_xml
from bot.ingest.parse import parse_feed
from bot.ingest.sandbox import ParseSandbox


def _per_feed(parse: object, body: bytes, rounds: int) -> float:
    assert callable(parse)
    start = time.perf_counter()
    for _ in range(rounds):
        parse(body, {"Content-Type": "application/rss+xml"}, "https://example.com/feed")
    return (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    box = ParseSandbox(workers=1)
    try:
        start = time.perf_counter()
        box.parse(feed_xml(0, 1), {}, None)
        print(f"worker start + first tiny parse: {(time.perf_counter() - start) * 1000:.0f} ms")
        for items in (1, 20, 200):
            body = feed_xml(1, items)
            rounds = max(3, args.rounds * 20 // max(items, 20))
            box.parse(body, {}, None)
            thread = _per_feed(parse_feed, body, rounds)
            worker = _per_feed(box.parse, body, rounds)
            print(
                f"{items:>4} items ({len(body) / 1024:,.0f} kB): "
                f"in-process {thread * 1000:.1f} ms, worker {worker * 1000:.1f} ms, "
                f"overhead {(worker - thread) * 1000:+.1f} ms/feed "
                f"({(worker / thread - 1) * 100:+.0f}%)"
            )
    finally:
        box.close()


if __name__ == "__main__":
    main()
