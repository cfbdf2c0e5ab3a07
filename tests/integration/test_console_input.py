"""`digestbot run` with no token and stdin that is not a terminal: /dev/null, closed, a pipe,
a file (issue 19, item 3). Real child processes, each killed in the fixture's finalizer."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tests.children import ChildProcesses
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 45


def console_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    return {**env, "DIGESTBOT_DB": str(tmp_path / "console.db"), "DIGESTBOT_LOG_LEVEL": "INFO"}


async def run_bot(
    children: ChildProcesses, tmp_path: Path, *command: str, stdin: Any, typed: bytes | None = None
) -> tuple[int, str, str]:
    """`command` (a `digestbot run` line) to its exit, within the deadline."""
    process = await children.spawn(
        *command,
        cwd=REPO,
        env=console_env(tmp_path),
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(typed), timeout=DEADLINE_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_one_clear_line(err: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "DISCORD_TOKEN is not set" in lines[0] and "commands.txt" in lines[0]


async def test_no_token_and_stdin_from_dev_null_exits_78_in_one_line(
    child_processes: ChildProcesses, tmp_path: Path
) -> None:
    code, out, err = await run_bot(
        child_processes,
        tmp_path,
        sys.executable,
        "-m",
        "bot",
        "run",
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert code == 78
    assert out == ""
    assert_one_clear_line(err)


async def test_no_token_and_stdin_closed_exits_78_in_one_line(
    child_processes: ChildProcesses, tmp_path: Path
) -> None:
    shell = f'exec "{sys.executable}" -m bot run <&-'
    code, out, err = await run_bot(child_processes, tmp_path, "/bin/sh", "-c", shell, stdin=None)
    assert code == 78
    assert out == ""
    assert_one_clear_line(err)


async def test_piped_commands_run_and_the_run_ends_at_the_end_of_the_input(
    child_processes: ChildProcesses, tmp_path: Path
) -> None:
    code, out, err = await run_bot(
        child_processes,
        tmp_path,
        sys.executable,
        "-m",
        "bot",
        "run",
        stdin=asyncio.subprocess.PIPE,
        typed=b"feed list\nfollow kernels\nfollowing\n",  # no `quit`: the pipe's end is the end
    )
    assert code == 0, err
    assert "No feeds yet" in out and "kernels" in out
    assert "Traceback" not in err
    assert "INFO" not in out  # the log is on stderr, not in the conversation


async def test_commands_from_a_file_end_at_the_end_of_the_file(
    child_processes: ChildProcesses, tmp_path: Path
) -> None:
    commands = tmp_path / "commands.txt"
    commands.write_text("feed list\n", encoding="utf-8")  # no `quit`
    with commands.open("rb") as stdin:
        code, out, err = await run_bot(
            child_processes, tmp_path, sys.executable, "-m", "bot", "run", stdin=stdin
        )
    assert code == 0, err
    assert "No feeds yet" in out


async def test_posts_queued_by_piped_commands_are_all_shown_before_the_run_ends(
    child_processes: ChildProcesses, tmp_path: Path, feed_server: FeedServer
) -> None:
    """Seven backfilled posts go out at the outbox's pace (5 per 5 s to a channel): the run
    waits for the last of them at the end of its input instead of ending after the first."""
    items = [{"title": f"Piped post {n}", "guid": f"p{n}"} for n in range(7)]
    feed_server.set("/piped", rss_feed(items, title="Piped Letter"))
    process = await child_processes.spawn(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=REPO,
        env={**console_env(tmp_path), "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    typed = f"feed add {feed_server.url('/piped')} --backfill 7\n".encode()
    raw, err = await asyncio.wait_for(process.communicate(typed), timeout=DEADLINE_S)
    out = raw.decode()
    assert process.returncode == 0, err.decode()
    assert all(f"Piped post {n}" in out for n in range(7)), out
