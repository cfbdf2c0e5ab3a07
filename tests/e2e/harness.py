"""Run the real DigestBot (runtime + discord.py) against the loopback fake Discord.

    async with running_bot(tmp_path, fake) as bot:
        handle = await fake.invoke_command("feed add", {...}, guild_id=..., ...)

Feeds come from tests.feedserver's FeedServer on 127.0.0.1 (allowed by DIGESTBOT_FETCH_ALLOW).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bot.app import DigestBot
from bot.config import FetchAllowList, Settings
from bot.runtime import Runtime
from bot.store import Store
from tests.fakediscord import FakeDiscord


def bot_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "discord_token": "fake-bot-token",
        "db_path": tmp_path / "bot.db",
        "poll_interval_s": 1.0,
        "fetch_allow": FetchAllowList.parse("127.0.0.1/32"),
        "fetch_timeout_s": 5.0,
    }
    return Settings(**(base | overrides))


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path,
    fake: FakeDiscord,
    *,
    clock: Callable[[], float] | None = None,
    ready_timeout: float = 10.0,
    **setting_overrides: Any,
) -> AsyncIterator[DigestBot]:
    """Start the bot, wait until it is ready (guilds loaded, commands synced), close it after.
    `clock` drives the runtime's time (digest slots) instead of the wall clock; several shards
    need a longer `ready_timeout` (discord.py IDENTIFYs one shard every 5 s, as Discord asks)."""
    settings = bot_settings(tmp_path, **setting_overrides)
    if clock is None:
        runtime = await Runtime.open(settings)
    else:
        runtime = Runtime(settings, await Store.open(settings.database), clock=clock)
    bot = DigestBot(runtime, guild_ready_timeout=0.1)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await fake.wait_for_ready(timeout=ready_timeout)
        await fake.wait_until(lambda: bot.is_ready() or task.done(), timeout=ready_timeout)
        if task.done():
            task.result()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)
        await runtime.close()
