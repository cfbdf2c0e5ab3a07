"""Console mode does what `/feed` does (issue 19, item 4): `feed import`, `feed export` and
`feed mode` typed into a real `digestbot run`, and a group's word alone or with a wrong
second word lists the group's commands instead of "Unknown command 'feed'"."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import ConsoleContext
from bot.console.repl import run_command
from bot.runtime import Runtime
from tests.children import ChildProcesses
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 45


def opml(*urls: str) -> str:
    outlines = "".join(f"<outline type='rss' text='x' xmlUrl={quoteattr(u)}/>" for u in urls)
    return f"<?xml version='1.0'?><opml version='2.0'><head/><body>{outlines}</body></opml>"


async def test_feed_import_export_and_mode_work_in_the_console(
    child_processes: ChildProcesses, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/a", rss_feed([{"title": "A1", "guid": "a1"}], title="Alpha Letter"))
    feed_server.set("/b", rss_feed([{"title": "B1", "guid": "b1"}], title="Beta Letter"))
    imported = tmp_path / "in.opml"
    imported.write_text(opml(feed_server.url("/b")), encoding="utf-8")
    exported = tmp_path / "out.opml"
    typed = "\n".join(
        [
            f"feed add {feed_server.url('/a')} --backfill 0",
            f"feed export {exported}",
            f"feed import {imported}",
            "feed mode digest Beta",
            "feed list",
            "feed",
            "feed frobnicate",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    process = await child_processes.spawn(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=REPO,
        env={
            **env,
            "DIGESTBOT_DB": str(tmp_path / "parity.db"),
            "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32",
            "DIGESTBOT_LOG_LEVEL": "WARNING",
        },
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    raw, err = await asyncio.wait_for(process.communicate(typed.encode()), timeout=DEADLINE_S)
    out = raw.decode()
    assert process.returncode == 0, err.decode()
    assert f"Exported 1 feed to {exported}" in out
    assert feed_server.url("/a") in exported.read_text(encoding="utf-8")
    assert "1 added" in out  # the import's report
    # `feed mode` took effect: the list line names the feed, its URL, the channel and the mode.
    assert f"Beta Letter <{feed_server.url('/b')}> → #console · digest" in out
    assert "Unknown command" not in out
    assert "'feed' is not a command" in out and "`feed import`" in out
    assert "'feed frobnicate' is not a command" in out


async def test_what_only_discord_can_do_is_named_with_where_to_do_it(tmp_path: Path) -> None:
    runtime = await Runtime.open(bot_settings(tmp_path))
    try:
        ctx = ConsoleContext(runtime, lambda _: None)
        for name, slash in [
            ("feed threads", "/feed threads"),
            ("feed identity", "/feed identity"),
            ("feed merge", "/feed merge"),
        ]:
            answer = await run_command(ctx, f"{name} letter on")
            assert answer is not None and f"use `{slash}` in a server" in answer, answer
            assert "not a command" not in answer
    finally:
        await runtime.close()
