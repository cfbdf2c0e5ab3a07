"""Three `python -m bot run` processes sharing one PostgreSQL database and one bot token (shards
0/2 and 1/2, and a worker without a gateway), against the loopback fake Discord, while a feed
grows and one process after another is SIGKILLed at random moments and started again: every
item is posted exactly once to each channel, in order; a command in a guild of each shard is
answered; no request is ever outside Discord's buckets or its global limit.

Each kill comes at a random moment of a round's work, chosen by events, not by time: once a
random number (0–5) of the round's new posts have reached the fake, so a kill lands mid-poll or
mid-send; the leases of the killed process (feeds: DIGESTBOT_FEED_LEASE, posts:
DIGESTBOT_DELIVERY_LEASE, both short here) are then taken over by the others."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import pytest

from tests.deliveryfakes import until
from tests.e2e.test_delivery_e2e import add_feed
from tests.e2e.test_process_exit import REPO, bot_env
from tests.fakediscord import FakeDiscord, StandardGuild
from tests.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.timeout(180)

FEED_PATH = "/cluster.xml"
ITEMS = 30
KILLS = 10
SHARDS = ("0/2", "1/2", "none")


def feed(count: int) -> str:
    """An RSS feed of `count` items ("Item 0" … oldest first)."""
    items: list[dict[str, object]] = [
        {
            "title": f"Item {n}",
            "link": f"https://cluster.example.com/{n}",
            "guid": f"item-{n}",
            "description": f"Item {n}, a few words.",
            "pubDate": f"Mon, 01 Jan 2024 10:{n:02d}:00 GMT",
        }
        for n in range(count)
    ]
    return rss_feed(list(reversed(items)), title="Cluster", link="https://cluster.example.com/")


class Cluster:
    """The three bot processes, each logging to a file of its own; any can be killed and
    started again."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env = env
        self._logs = logs
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._files: list[IO[bytes]] = []
        self.starts = 0

    async def start(self, shards: str) -> None:
        self.starts += 1
        log = (self._logs / f"bot-{shards.replace('/', 'of')}-{self.starts}.log").open("wb")
        self._files.append(log)
        self.processes[shards] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakediscord.launch",
            "bot",
            "run",
            cwd=REPO,
            env={**self._env, "DIGESTBOT_SHARDS": shards},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def kill(self, shards: str) -> None:
        process = self.processes[shards]
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for file in self._files:
            file.close()

    def output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self._logs.glob("bot-*.log"))
        )


@contextlib.asynccontextmanager
async def cluster(env: dict[str, str], logs: Path) -> AsyncIterator[Cluster]:
    running = Cluster(env, logs)
    try:
        for shards in SHARDS:
            await running.start(shards)
        yield running
    finally:
        await running.stop()


async def answered(fake: FakeDiscord, world: StandardGuild, url: str, channel: int) -> str:
    """`/feed add`, asked again while the shard's process is still starting (its gateway may be
    READY before discord.py dispatches commands)."""
    for _ in range(5):
        try:
            return await add_feed(fake, world, url, channel)
        except (TimeoutError, AssertionError):
            continue
    raise AssertionError("no answer to /feed add")


async def test_three_processes_post_each_item_once_in_order_through_kills(
    tmp_path: Path, pg_url: str, feed_server: FeedServer
) -> None:
    feed_server.set(FEED_PATH, feed(1))
    chance = random.Random()
    async with FakeDiscord.serve(recommended_shards=2) as fake:
        worlds = [fake.state.add_standard_guild(f"Shard {n}", shard=(n, 2)) for n in range(2)]
        env = bot_env(
            fake,
            tmp_path,
            DIGESTBOT_DB=pg_url,
            DIGESTBOT_DELIVERY_LEASE="4s",
            DIGESTBOT_FEED_LEASE="3s",
        )
        async with cluster(env, tmp_path) as bots:
            try:
                await fake.wait_for_gateway("ready", 2, timeout=60)
                # A command in a guild of each shard is answered (by that shard's process).
                for world in worlds:
                    answer = await answered(fake, world, feed_server.url(FEED_PATH), world.news_id)
                    assert "Cluster" in answer, answer
                for n, world in enumerate(worlds):  # each on its guild's shard
                    frames = fake.gateway.sessions[(n, 2)].buffer
                    guilds = {f["d"]["guild_id"] for f in frames if f["t"] == "INTERACTION_CREATE"}
                    assert guilds == {str(world.guild_id)}

                # The feed grows while processes are killed at random moments and restarted.
                def posted() -> int:
                    return sum(len(fake.bot_posts(world.news_id)) for world in worlds)

                items = 1
                for _kill in range(KILLS):
                    items = min(ITEMS, items + 3)
                    feed_server.set(FEED_PATH, feed(items))
                    # A random moment: after 0–5 of this round's posts (never more than are due).
                    wanted = min(posted() + chance.randint(0, 5), items * len(worlds))
                    await until(lambda n=wanted: posted() >= n, timeout=60, what=f"{wanted} posts")
                    victim = chance.choice(SHARDS)
                    await bots.kill(victim)
                    await bots.start(victim)
                feed_server.set(FEED_PATH, feed(ITEMS))

                for world in worlds:
                    await fake.wait_for_messages(world.news_id, ITEMS, timeout=90)
            except BaseException:
                print(bots.output())
                raise

        expected = [f"Item {n}" for n in range(ITEMS)]
        limits = fake.ratelimits
        for world in worlds:
            titles = [m.embeds[0]["title"] for m in fake.bot_posts(world.news_id)]
            assert titles == expected  # exactly once each, in order
            sent = limits.send_times[world.news_id]
            assert limits.max_sends_in_window(world.news_id, 5.0) <= 5, sent
        assert limits.overruns == 0, limits.violations
        assert limits.max_requests_in_window(1.0) <= 50
