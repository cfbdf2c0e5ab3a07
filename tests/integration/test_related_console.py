"""`related URL` at the console: the same answer as /related, every page at once, as text."""

from __future__ import annotations

import random
from pathlib import Path

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import ConsoleContext
from bot.console.repl import run_command
from bot.runtime import Runtime
from tests.e2e.harness import bot_settings
from tests.e2e.test_related import SITE, entry, letter
from tests.feedserver import FeedServer


async def test_console_related_lists_the_ten_closest(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    rng = random.Random(3)
    feed_server.set("/f", letter([entry(rng, n, ("bees", "space")[n % 2]) for n in range(30)]))
    runtime = await Runtime.open(bot_settings(tmp_path, discord_token=None))
    try:
        ctx = ConsoleContext(runtime, lambda _: None)
        await run_command(ctx, f"feed add {feed_server.url('/f')} --backfill 0")
        answer = await run_command(ctx, f"related {SITE}/bees/0")
        assert answer is not None
        assert answer.count(f"{SITE}/bees/") >= 11 and f"{SITE}/space/" not in answer
        assert "Related 1–5 of 10" in answer and "Related 6–10 of 10" in answer
        unknown = await run_command(ctx, f"related {SITE}/nothing/1")
        assert unknown is not None and "not in this server's archive" in unknown
    finally:
        await runtime.close()
