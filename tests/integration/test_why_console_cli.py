"""`why URL` at the console and `digestbot why URL`: the same answers as /why, as text."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import ConsoleContext
from bot.console.repl import run_command
from bot.runtime import Runtime
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]


def letter(*numbers: int) -> str:
    items = [
        {"title": f"Post {n}", "guid": f"g{n}", "link": f"https://why.example.com/p/{n}"}
        for n in numbers
    ]
    return rss_feed(items, title="Why Letter", link="https://why.example.com/")


async def digestbot_why(db: Path, url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "why",
        url,
        cwd=REPO,
        env={**os.environ, "DIGESTBOT_LOG_LEVEL": "WARNING", "DIGESTBOT_DB": str(db)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_console_and_cli_why(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.set("/f", letter(1))
    settings = bot_settings(tmp_path, discord_token=None)
    runtime = await Runtime.open(settings)
    try:
        ctx = ConsoleContext(runtime, lambda _: None)
        await run_command(ctx, f"feed add {feed_server.url('/f')} --backfill 0")
        feed_server.set("/f", letter(2, 1))
        await runtime.poller.poll_due(all_feeds=True)
        archived = await run_command(ctx, "why https://why.example.com/p/1")
        assert archived is not None and "Post 1" in archived
        assert "#console: not posted: it was published before the feed was added here" in archived
        queued = await run_command(ctx, "why https://why.example.com/p/2/")  # a trailing slash
        assert queued is not None and "#console: queued: it goes out" in queued
        missing = await run_command(ctx, "why https://why.example.com/p/3")
        assert missing is not None and "is not in the archive" in missing
        assert "Why Letter" in missing and "next read" in missing
    finally:
        await runtime.close()

    code, out = await digestbot_why(settings.db_path, "https://why.example.com/p/2")
    assert code == 0 and "Post 2" in out
    assert "channel 1 (server 1): queued: it goes out" in out
    code, out = await digestbot_why(settings.db_path, "https://nowhere.example.org/x")
    assert code == 65 and "is not in the archive" in out and "No feed of any server has it" in out
