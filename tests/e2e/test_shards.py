"""DIGESTBOT_SHARDS through the real bot against the fake Discord serving several shards:
`auto` runs every shard Discord recommends in one process, `1/2` runs shard 1 only, `none`
is a worker without a gateway that still polls and delivers, and a value that names no
valid set of shards stops the bot at start with exit 78."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import pytest

from bot.config import ShardPlan
from tests.e2e.harness import running_bot
from tests.e2e.test_delivery_e2e import FEED_PATH, add_feed, letter
from tests.e2e.test_process_exit import bot_env, finish, start_bot
from tests.fakediscord import FakeDiscord, StandardGuild
from tests.feedserver import FeedServer

pytestmark = pytest.mark.timeout(90)
READY_S = 30.0  # discord.py IDENTIFYs one shard every 5 s; the machine is busy


def guild_on(fake: FakeDiscord, shard: int, count: int) -> StandardGuild:
    return fake.state.add_standard_guild(f"Shard {shard}", shard=(shard, count))


async def test_auto_runs_every_recommended_shard_and_serves_the_guilds_of_each(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set(FEED_PATH, letter(["First post"]))
    async with FakeDiscord.serve(recommended_shards=2) as fake:
        worlds = [guild_on(fake, 0, 2), guild_on(fake, 1, 2)]
        async with running_bot(tmp_path, fake, ready_timeout=READY_S) as bot:
            assert sorted(fake.gateway.sessions) == [(0, 2), (1, 2)]
            assert bot.shard_count == 2
            assert {g.id for g in bot.guilds} == {w.guild_id for w in worlds}
            for world in worlds:
                answer = await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id)
                assert "The Letter" in answer, answer
            for world in worlds:
                [post] = await fake.wait_for_messages(world.news_id, 1, timeout=20)
                assert post.embeds[0]["title"] == "First post"
        # Each command came on its guild's shard (and on no other).
        for key, world in (((0, 2), worlds[0]), ((1, 2), worlds[1])):
            frames = fake.gateway.sessions[key].buffer
            guilds = {f["d"]["guild_id"] for f in frames if f["t"] == "INTERACTION_CREATE"}
            assert guilds == {str(world.guild_id)}


async def test_one_shard_of_two_connects_only_its_guilds_and_answers_their_commands(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set(FEED_PATH, letter(["First post"]))
    async with FakeDiscord.serve(recommended_shards=2) as fake:
        other, mine = guild_on(fake, 0, 2), guild_on(fake, 1, 2)
        async with running_bot(
            tmp_path, fake, ready_timeout=READY_S, shards=ShardPlan.parse("1/2")
        ) as bot:
            assert list(fake.gateway.sessions) == [(1, 2)]
            assert [p["shard"] for p in fake.gateway.identify_payloads] == [[1, 2]]
            assert [g.id for g in bot.guilds] == [mine.guild_id]
            assert bot.get_guild(other.guild_id) is None
            answer = await add_feed(fake, mine, feed_server.url(FEED_PATH), mine.news_id)
            assert "The Letter" in answer, answer
            await fake.wait_for_messages(mine.news_id, 1, timeout=20)
        assert fake.count("GET", r"^/gateway/bot$") == 0  # a fixed count asks Discord nothing


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4/4", "not below the count 4"),
        ("1/0", "the shard count must be at least 1"),
        ("a/b", "is not auto, none, or shards of a count"),
        ("0,1,0/2", "shard 0 is listed twice"),
    ],
)
async def test_a_bad_shard_setting_exits_78_naming_it(
    tmp_path: Path, fake_discord: FakeDiscord, value: str, reason: str
) -> None:
    process = await start_bot(bot_env(fake_discord, tmp_path, DIGESTBOT_SHARDS=value))
    code, output = await finish(process)
    assert code == 78, output
    assert f"configuration error: DIGESTBOT_SHARDS: {value!r}" in output and reason in output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output
    assert fake_discord.requests == []


async def test_discord_requiring_more_shards_exits_78_saying_what_to_do(
    tmp_path: Path,
) -> None:
    async with FakeDiscord.serve(max_guilds_per_shard=1) as fake:
        guild_on(fake, 0, 2)
        guild_on(fake, 1, 2)
        process = await start_bot(bot_env(fake, tmp_path, DIGESTBOT_SHARDS="0/1"))
        code, output = await finish(process)
    assert code == 78, output
    assert "configuration error: DIGESTBOT_SHARDS" in output and "4011" in output
    assert "use auto or a larger count" in output and "Traceback" not in output


async def test_a_worker_without_a_gateway_polls_and_delivers(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["First post"]))
    async with running_bot(tmp_path, fake):  # a gateway process takes the command
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id)
        await fake.wait_for_messages(world.news_id, 1, timeout=20)
    connections = len(fake.gateway.connections)

    process = await start_bot(bot_env(fake, tmp_path, DIGESTBOT_SHARDS="none"))
    try:
        feed_server.set(FEED_PATH, letter(["First post", "Second post"]))
        posts = await fake.wait_for_messages(world.news_id, 2, timeout=READY_S)
        assert [p.embeds[0]["title"] for p in posts] == ["First post", "Second post"]
        assert len(fake.gateway.connections) == connections  # it never opened the gateway
        process.send_signal(signal.SIGTERM)
        code, output = await finish(process)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    assert code == 0, output
    assert "worker: no gateway connection" in output and "Traceback" not in output
