"""The fake Discord serves several gateway shards at once, as Discord does, to the real
discord.py client: each shard's READY and GUILD_CREATEs hold only its guilds, each guild's
events and interactions go to its shard's session, and invalid shards are closed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands

from tests.fakediscord import FakeDiscord, Overwrite

pytestmark = pytest.mark.timeout(60)
START_S = 20.0  # discord.py waits 5 s between two shards' IDENTIFYs


def dispatched(fake: FakeDiscord, key: tuple[int, int], event: str) -> list[dict[str, object]]:
    """The data of every ``event`` dispatch the session of shard ``key`` was sent."""
    session = fake.gateway.sessions[key]
    return [frame["d"] for frame in session.buffer if frame["t"] == event]


@contextlib.asynccontextmanager
async def sharded_bot(fake: FakeDiscord) -> AsyncIterator[commands.AutoShardedBot]:
    bot = commands.AutoShardedBot(
        command_prefix="!",
        intents=discord.Intents(guilds=True),
        help_command=None,
        guild_ready_timeout=0.1,
    )

    @bot.tree.command(name="where", description="Which shard answers")
    async def where(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"shard {interaction.guild.shard_id}")  # type: ignore[union-attr]

    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_until(lambda: bot.is_ready() or task.done(), START_S, "bot ready")
        if task.done():
            task.result()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def test_each_shard_gets_only_its_guilds_and_their_events() -> None:
    async with FakeDiscord.serve(recommended_shards=2) as fake:
        zero = fake.state.add_standard_guild("Zero", shard=(0, 2))
        one = fake.state.add_standard_guild("One", shard=(1, 2))
        async with sharded_bot(fake) as bot:
            assert bot.shard_count == 2  # from GET /gateway/bot
            ready = {
                tuple(e.detail["shard"]): e.detail["guilds"]
                for e in fake.gateway.log
                if e.kind == "ready"
            }
            assert ready == {(0, 2): [zero.guild_id], (1, 2): [one.guild_id]}
            assert [p["shard"] for p in fake.gateway.identify_payloads] == [[0, 2], [1, 2]]
            guild_zero, guild_one = bot.get_guild(zero.guild_id), bot.get_guild(one.guild_id)
            assert guild_zero is not None and guild_zero.shard_id == 0
            assert guild_one is not None and guild_one.shard_id == 1

            # A guild event reaches its shard's session only.
            fake.set_overwrite(one.news_id, Overwrite.role(one.everyone_role_id, deny=0))
            updates = dispatched(fake, (1, 2), "CHANNEL_UPDATE")
            assert [u["id"] for u in updates] == [str(one.news_id)]
            assert dispatched(fake, (0, 2), "CHANNEL_UPDATE") == []

            # A command in a guild of each shard arrives on that shard and is answered.
            for world, shard in ((zero, 0), (one, 1)):
                handle = await fake.invoke_command(
                    "where",
                    {},
                    guild_id=world.guild_id,
                    channel_id=world.general_id,
                    user_id=world.admin_id,
                )
                assert (await handle.final_message(timeout=10)).content == f"shard {shard}"
            for key, world in (((0, 2), zero), ((1, 2), one)):
                [interaction] = dispatched(fake, key, "INTERACTION_CREATE")
                assert interaction["guild_id"] == str(world.guild_id)


async def test_an_unsharded_client_is_shard_0_of_1_and_gets_every_guild() -> None:
    async with FakeDiscord.serve() as fake:
        zero = fake.state.add_standard_guild("Zero", shard=(0, 2))
        one = fake.state.add_standard_guild("One", shard=(1, 2))
        client = discord.Client(intents=discord.Intents(guilds=True), guild_ready_timeout=0.1)
        task = asyncio.create_task(client.start(fake.token))
        try:
            await fake.wait_until(lambda: client.is_ready() or task.done(), START_S, "ready")
            assert list(fake.gateway.sessions) == [(0, 1)]
            assert "shard" not in fake.gateway.identify_payloads[0]
            assert {g.id for g in client.guilds} == {zero.guild_id, one.guild_id}
        finally:
            await client.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)


async def run_until_closed(fake: FakeDiscord, client: discord.Client) -> int:
    """Start the client and return the close code the gateway ended it with."""
    with pytest.raises(discord.ConnectionClosed) as closed:
        await asyncio.wait_for(client.start(fake.token), START_S)
    await client.close()
    return closed.value.code


async def test_a_shard_beyond_the_count_is_closed_4010_invalid_shard() -> None:
    async with FakeDiscord.serve() as fake:
        fake.state.add_standard_guild()
        client = discord.Client(intents=discord.Intents(guilds=True), shard_id=2, shard_count=2)
        assert await run_until_closed(fake, client) == 4010
        assert fake.gateway.sessions == {}
        assert "invalid_shard" in fake.gateway.kinds()


async def test_too_many_guilds_on_one_shard_is_closed_4011_sharding_required() -> None:
    async with FakeDiscord.serve(max_guilds_per_shard=1) as fake:
        fake.state.add_standard_guild("Zero", shard=(0, 2))
        fake.state.add_standard_guild("One", shard=(1, 2))
        client = discord.Client(intents=discord.Intents(guilds=True))
        assert await run_until_closed(fake, client) == 4011
        assert fake.gateway.sessions == {}
        assert "sharding_required" in fake.gateway.kinds()


def test_guilds_can_be_placed_on_a_shard() -> None:
    fake = FakeDiscord()
    for shard in range(3):
        world = fake.state.add_standard_guild(shard=(shard, 3))
        assert (world.guild_id >> 22) % 3 == shard
