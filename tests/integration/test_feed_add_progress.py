"""`feed add` of a slow feed says "Fetching …" at once, then the result (issue 19, item 9):
the console and the CLI, as real child processes against a loopback feed server that holds
its answer until the test has seen the progress line."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from aiohttp import web

from tests.children import ChildProcesses
from tests.feedserver import FeedServer, Handler, rss_feed

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 45
FEED = rss_feed(
    [{"title": "Slow news", "guid": "s1", "link": "https://s.example.com/1"}], title="Slow Letter"
)


def held_feed(release: asyncio.Event) -> Handler:
    """A feed that answers only once `release` is set: a slow server, with no timing in it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(body=FEED.encode(), content_type="application/rss+xml")

    return handler


def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    return {
        **base,
        "DIGESTBOT_DB": str(tmp_path / "progress.db"),
        "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32",
        "DIGESTBOT_LOG_LEVEL": "WARNING",
    }


async def read_until(stream: asyncio.StreamReader, text: str) -> str:
    """Lines of `stream` up to and including the first that holds `text` (within the deadline)."""
    seen: list[str] = []

    async def read() -> str:
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"{text!r} never came; got: {''.join(seen)!r}")
            seen.append(line)
            if text in line:
                return "".join(seen)

    return await asyncio.wait_for(read(), timeout=DEADLINE_S)


async def test_console_feed_add_says_fetching_before_the_slow_feed_answers(
    child_processes: ChildProcesses, tmp_path: Path, feed_server: FeedServer
) -> None:
    release = asyncio.Event()
    feed_server.set_handler("/slow", held_feed(release))
    process = await child_processes.spawn(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=REPO,
        env=env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"feed add {feed_server.url('/slow')} --backfill 0\n".encode())
    await process.stdin.drain()
    before = await read_until(process.stdout, "Fetching")
    assert feed_server.url("/slow") in before
    assert "Following" not in before  # the feed has not answered: the line came first
    release.set()
    after = await read_until(process.stdout, "Following Slow Letter")
    assert "Fetching" not in after
    process.stdin.close()
    await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    assert process.returncode == 0


async def test_cli_feeds_add_says_fetching_before_the_slow_feed_answers(
    child_processes: ChildProcesses, tmp_path: Path, feed_server: FeedServer
) -> None:
    release = asyncio.Event()
    feed_server.set_handler("/slow", held_feed(release))
    process = await child_processes.spawn(
        sys.executable,
        "-m",
        "bot",
        "feeds",
        "add",
        feed_server.url("/slow"),
        cwd=REPO,
        env=env(tmp_path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    progress = await read_until(process.stdout, "Fetching")
    assert feed_server.url("/slow") in progress
    assert process.returncode is None  # still waiting on the feed
    release.set()
    result = await asyncio.wait_for(process.stdout.read(), timeout=DEADLINE_S)
    await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    assert process.returncode == 0
    assert "Slow Letter" in result.decode()
