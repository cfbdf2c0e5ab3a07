"""Crash test: the bot's poll-and-deliver process is SIGKILLed at random moments, over and over,
while new items keep arriving; in the end every item was posted exactly once in every
subscribed channel, in order, and nothing was posted anywhere else.

The child (tests/crash_child.py) runs the real poller, pipeline, store and outbox. It posts to
a loopback chat server standing in for Discord: it de-duplicates by nonce only for a short
window (shorter than a restart) and answers slowly after storing the message, so a kill often
lands after a post reached the server but before the bot recorded it. Only the outbox's own
bookkeeping (claim before send, look before resending) prevents a second post then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import time
from collections import defaultdict
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import load_settings
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.store import Store
from tests.children import ChildProcesses
from tests.deliveryfakes import until
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]
KILLS = 20
READY_TIMEOUT_S = 90.0  # for the child's "ready" line: imports are slow on a busy machine
FINAL_DRAIN_S = 90.0
NONCE_WINDOW_S = 0.3
ITEM_EVERY_S = 0.2
GUILD = 1

# feed path → channels subscribed to it (channel 20 follows both feeds).
SUBSCRIPTIONS = {"/f1.xml": (10, 20), "/f2.xml": (20, 30)}


class LoopbackChat:
    """Discord's message endpoint, loosely: POST creates, GET lists the newest first."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.messages: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        self.nonce_hits = 0
        self.ambiguous_500s = 0
        self.lookups = 0
        self._nonces: dict[tuple[int, str], tuple[float, dict[str, Any]]] = {}
        self._next_id = 1
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/channels/{cid}/messages", self._post)
        app.router.add_get("/channels/{cid}/messages", self._history)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        channel = int(request.match_info["cid"])
        body = await request.json()
        if self.rng.random() < 0.03:
            return web.json_response({"message": "unavailable"}, status=503)
        key = (channel, str(body.get("nonce")))
        now = time.monotonic()
        seen = self._nonces.get(key)
        if seen is not None and now - seen[0] < NONCE_WINDOW_S:
            self.nonce_hits += 1
            message = seen[1]
        else:
            message = {
                "id": self._next_id,
                "item_url": body.get("item_url"),
                "title": body.get("title"),
                "content": body.get("content"),
            }
            self._next_id += 1
            self.messages[channel].append(message)
            self._nonces[key] = (now, message)
        if self.rng.random() < 0.03:
            # Stored, but the answer is an error: the sender cannot know it went through.
            self.ambiguous_500s += 1
            return web.json_response({"message": "oops"}, status=500)
        # A slow answer: the message exists before the bot hears about it.
        await asyncio.sleep(self.rng.uniform(0.005, 0.04))
        return web.json_response({"id": str(message["id"])})

    async def _history(self, request: web.Request) -> web.Response:
        self.lookups += 1
        channel = int(request.match_info["cid"])
        limit = int(request.query.get("limit", "50"))
        newest = list(reversed(self.messages[channel]))[:limit]
        # Like Discord's history, messages carry no nonce.
        return web.json_response(
            [
                {"id": str(m["id"]), "item_url": m["item_url"], "content": m["content"]}
                for m in newest
            ]
        )


class GrowingFeeds:
    """Feeds on the loopback feed server that get a new item every ITEM_EVERY_S."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.items: dict[str, list[dict[str, object]]] = {path: [] for path in SUBSCRIPTIONS}
        self.clock = 1_700_000_000

    def add(self, path: str) -> None:
        number = len(self.items[path]) + 1
        self.clock += 60
        name = path.strip("/").removesuffix(".xml")
        self.items[path].append(
            {
                "title": f"{name} item {number}",
                "link": f"https://news.example.com/{name}/{number}",
                "guid": f"{name}-{number}",
                "description": f"<p>Item {number} of {name}.</p>",
                "pubDate": formatdate(self.clock, usegmt=True),
            }
        )
        self.server.set(path, rss_feed(list(reversed(self.items[path])), title=name))

    async def keep_adding(self, stop: asyncio.Event) -> None:
        paths = list(SUBSCRIPTIONS)
        turn = 0
        while not stop.is_set():
            self.add(paths[turn % len(paths)])
            turn += 1
            await asyncio.sleep(ITEM_EVERY_S)  # the feeds' publishing pace (chosen, not a wait)


async def set_up(db: Path, server: FeedServer, feeds: GrowingFeeds) -> None:
    """Two feeds with two archived items each, polled once (archive: never posted), and the
    channels subscribed."""
    for path in SUBSCRIPTIONS:
        feeds.add(path)
        feeds.add(path)
    store = await Store.open(db)
    settings = load_settings({"DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"})
    try:
        async with FeedFetcher(settings) as fetcher:
            pipeline = FeedPipeline(store, fetcher)
            for path, channels in SUBSCRIPTIONS.items():
                now = time.time()
                feed = await store.feeds.add(
                    server.url(path), interval_s=0.1, now=now, first_poll_at=now
                )
                outcome = await pipeline.poll(feed)
                assert outcome.error is None and len(outcome.new_item_ids) == 2, outcome
                for channel in channels:
                    await store.subscriptions.add(GUILD, channel, feed.id, added_by=7, now=now)
    finally:
        await store.close()


def child_log(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]


async def start_child(
    children: ChildProcesses, db: Path, chat: LoopbackChat, log: Path
) -> asyncio.subprocess.Process:
    """Start the child and wait for its "ready" line (a signal, not a guess: a loaded machine
    may take many seconds to import everything)."""
    env = dict(os.environ)
    env["DIGESTBOT_FETCH_ALLOW"] = "127.0.0.1/32"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    with log.open("ab") as err:
        process = await children.spawn(
            sys.executable,
            "-m",
            "tests.crash_child",
            "--db",
            str(db),
            "--chat",
            chat.url,
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_S)
        assert line.strip() == b"ready", (line, child_log(log))
    except BaseException:
        ChildProcesses.sigkill(process)
        raise
    return process


async def kill(process: asyncio.subprocess.Process, log: Path) -> None:
    ChildProcesses.sigkill(process)
    code = await process.wait()
    # The child only ever ends by our SIGKILL: a crash of its own is a failure.
    assert code == -signal.SIGKILL, child_log(log)


def delivery_states(db: Path) -> dict[str, int]:
    """The outbox's states, read-only while the child may be writing."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        rows = conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
    return {str(state): int(count) for state, count in rows}


def settled(db: Path, chat: LoopbackChat, wanted: dict[int, list[str]]) -> bool:
    """Every wanted post is there and nothing is left to send: no further post can come."""
    if not all(len(chat.messages[c]) >= len(urls) for c, urls in wanted.items()):
        return False
    states = delivery_states(db)
    return states.get("pending", 0) == states.get("sending", 0) == 0


def expected_posts(feeds: GrowingFeeds) -> dict[int, list[str]]:
    """channel → item URLs it must get, in order (items 1-2 of each feed are archive)."""
    wanted: defaultdict[int, list[str]] = defaultdict(list)
    for path, channels in SUBSCRIPTIONS.items():
        for channel in channels:
            wanted[channel].extend(str(item["link"]) for item in feeds.items[path][2:])
    return wanted


@pytest.mark.timeout(300)
async def test_every_item_is_posted_exactly_once_across_sigkills(
    tmp_path: Path, child_processes: ChildProcesses
) -> None:
    seed = int(os.environ.get("CRASH_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    db = tmp_path / "bot.db"
    log = tmp_path / "child.log"
    chat = LoopbackChat(rng)
    await chat.start()
    try:
        async with FeedServer() as server:
            feeds = GrowingFeeds(server)
            await set_up(db, server, feeds)
            stop_items = asyncio.Event()
            adder = asyncio.create_task(feeds.keep_adding(stop_items))
            try:
                for _ in range(KILLS):
                    child = await start_child(child_processes, db, chat, log)
                    await asyncio.sleep(rng.uniform(0.05, 0.35))  # the kill's moment
                    await kill(child, log)
            finally:
                stop_items.set()
                await adder
            wanted = expected_posts(feeds)
            child = await start_child(child_processes, db, chat, log)
            try:
                await until(
                    lambda: settled(db, chat, wanted),
                    timeout=FINAL_DRAIN_S,
                    what="every item posted and nothing left to send",
                )
            finally:
                await kill(child, log)
    finally:
        child_processes.kill_all()
        await chat.close()

    context = (
        f"seed={seed} nonce_hits={chat.nonce_hits} ambiguous_500s={chat.ambiguous_500s} "
        f"lookups={chat.lookups}"
    )
    assert set(chat.messages) <= set(wanted), context
    for channel, urls in wanted.items():
        posted = [str(m["item_url"]) for m in chat.messages[channel]]
        duplicates = {u for u in posted if posted.count(u) > 1}
        assert not duplicates, f"channel {channel} got duplicates {sorted(duplicates)}; {context}"
        assert sorted(posted) == sorted(urls), f"channel {channel}: missing or extra; {context}"
        for path in SUBSCRIPTIONS:
            name = path.strip("/").removesuffix(".xml")
            numbers = [int(u.rsplit("/", 1)[1]) for u in posted if f"/{name}/" in u]
            assert numbers == sorted(numbers), f"channel {channel}: {name} out of order; {context}"
    # Enough happened for the test to mean something.
    assert sum(len(urls) for urls in wanted.values()) >= 100, context
    store = await Store.open(db)
    try:
        counts = await store.deliveries.counts()
    finally:
        await store.close()
    assert counts["sent"] == sum(len(urls) for urls in wanted.values()), (counts, context)
    assert counts["pending"] == counts["sending"] == counts["failed"] == 0, (counts, context)
    print(context)
