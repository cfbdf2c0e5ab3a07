"""Slash commands are synced only when their payload changed, not on every start; the
operator's `sync-commands` (to one guild or globally) works against the fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.app import DigestBot, sync_commands
from bot.runtime import Runtime
from bot.store import Store
from tests.e2e.harness import bot_settings as settings_in
from tests.fakediscord import FakeDiscord


class BotWithAnExtraCommand(DigestBot):
    """The same bot after a release that added `/hello`: a changed command payload."""

    async def setup_hook(self) -> None:
        @app_commands.command(name="hello", description="Say hello")
        async def hello(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("hello", ephemeral=True)

        self.tree.add_command(hello)
        await super().setup_hook()


@contextlib.asynccontextmanager
async def started(
    tmp_path: Path, fake: FakeDiscord, bot_class: type[DigestBot] = DigestBot
) -> AsyncIterator[DigestBot]:
    """One process lifetime: open the runtime on the test's database, run until ready, close."""
    runtime = await Runtime.open(settings_in(tmp_path))
    bot = bot_class(runtime, guild_ready_timeout=0.1)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_until(lambda: bot.is_ready() or task.done(), timeout=10)
        if task.done():
            task.result()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)
        await runtime.close()


def global_names(fake: FakeDiscord) -> list[str]:
    return sorted(str(c["name"]) for c in fake.commands())


async def test_the_first_start_syncs_once_and_a_restart_with_the_same_commands_does_not(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    async with started(tmp_path, fake):
        assert fake.command_sync_count == 1
        assert fake.sync_calls[0].guild_id is None  # global
        assert "feed" in global_names(fake)
    for _ in range(2):
        async with started(tmp_path, fake):
            pass
    assert fake.command_sync_count == 1


async def test_a_changed_command_payload_is_synced_once(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    async with started(tmp_path, fake):
        assert "hello" not in global_names(fake)
    async with started(tmp_path, fake, BotWithAnExtraCommand):
        assert fake.command_sync_count == 2
        assert "hello" in global_names(fake) and "feed" in global_names(fake)
    async with started(tmp_path, fake, BotWithAnExtraCommand):
        pass
    assert fake.command_sync_count == 2
    async with started(tmp_path, fake):  # rolled back: the payload changed again
        assert fake.command_sync_count == 3
        assert "hello" not in global_names(fake)


async def test_sync_commands_to_one_guild_leaves_the_global_hash_alone(
    tmp_path: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    runtime = await Runtime.open(settings_in(tmp_path))
    assert await sync_commands(runtime, fake.token, world.guild_id) == 0
    assert "Synced" in capsys.readouterr().out
    assert [c.guild_id for c in fake.sync_calls] == [world.guild_id]
    assert "feed" in [c["name"] for c in fake.commands(world.guild_id)]
    assert fake.commands() == []
    # The guild copy does not count as the global sync: the next start still syncs globally.
    async with started(tmp_path, fake):
        assert [c.guild_id for c in fake.sync_calls] == [world.guild_id, None]


async def test_sync_commands_globally_records_the_payload_so_the_next_start_does_not_sync(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    runtime = await Runtime.open(settings_in(tmp_path))
    assert await sync_commands(runtime, fake.token, None) == 0
    assert fake.command_sync_count == 1 and "feed" in global_names(fake)
    store = await Store.open(tmp_path / "bot.db")
    try:
        assert await store.state.get("commands_hash:global")
    finally:
        await store.close()
    async with started(tmp_path, fake):
        pass
    assert fake.command_sync_count == 1


async def test_sync_commands_with_a_refused_token_is_a_configuration_error(
    tmp_path: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = await Runtime.open(settings_in(tmp_path))
    assert await sync_commands(runtime, "not-the-token", None) == 78
    assert "DISCORD_TOKEN was refused" in capsys.readouterr().out
    assert fake_discord.command_sync_count == 0


async def test_a_failed_sync_does_not_stop_the_bot_and_the_next_start_syncs_again(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    refused = fake.faults.fail(r"/applications/\d+/commands$", 503, count=1)
    async with started(tmp_path, fake):
        assert refused.hits == 1
        assert fake.command_sync_count == 0
        running = {task.get_name() for task in asyncio.all_tasks() if not task.done()}
        assert {"outbox", "poller"} <= running  # polling and delivery run anyway
    async with started(tmp_path, fake):
        assert fake.command_sync_count == 1
        assert "feed" in global_names(fake)
