"""Console mode on a real terminal (a pseudo-terminal): readline's history and editing, a post
arriving while a line is half typed, and the log kept out of the conversation (issue 19,
item 4). `digestbot run` is a real child process whose stdin, stdout and stderr are the pty."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.children import ChildProcesses
from tests.deliveryfakes import until
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 45.0
PROMPT = "digestbot> "

pytest.importorskip("readline")


class Terminal:
    """The test's end of a pty: what the child wrote so far, and keys to type."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.screen = ""
        asyncio.get_running_loop().add_reader(master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed its end
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            return
        self.screen += data.decode("utf-8", "replace")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    async def shows(self, text: str, *, times: int = 1) -> None:
        await until(lambda: self.screen.count(text) >= times, timeout=DEADLINE_S, what=repr(text))


@pytest.fixture
async def console(
    child_processes: ChildProcesses, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Terminal, asyncio.subprocess.Process]]:
    """`digestbot run` on a pty; `request.param` "log-unwritable": its log file's name is
    taken by a folder."""
    if getattr(request, "param", None) == "log-unwritable":
        (tmp_path / "tty.log").mkdir()
    master, child_end = pty.openpty()
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env.update(
        TERM="xterm",
        DIGESTBOT_DB=str(tmp_path / "tty.db"),
        DIGESTBOT_FETCH_ALLOW="127.0.0.1/32",
        DIGESTBOT_POLL_INTERVAL="1s",
        DIGESTBOT_LOG_LEVEL="INFO",
    )
    try:
        process = await child_processes.spawn(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=REPO,
            env=env,
            stdin=child_end,
            stdout=child_end,
            stderr=child_end,
        )
    finally:
        os.close(child_end)
    terminal = Terminal(master)
    try:
        yield terminal, process
    finally:
        asyncio.get_running_loop().remove_reader(master)
        child_processes.sigkill(process)
        os.close(master)


async def test_up_arrow_brings_back_the_last_command(
    console: tuple[Terminal, asyncio.subprocess.Process],
) -> None:
    terminal, process = console
    await terminal.shows(PROMPT)
    terminal.type("feed list\r")
    await terminal.shows("No feeds yet")
    terminal.type("\x1b[A\r")  # up arrow, Enter: `feed list` again
    await terminal.shows("No feeds yet", times=2)
    terminal.type("quit\r")
    await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    assert process.returncode == 0


async def test_a_post_arriving_while_typing_keeps_the_prompt_and_the_typed_text(
    console: tuple[Terminal, asyncio.subprocess.Process],
    feed_server: FeedServer,
    tmp_path: Path,
) -> None:
    terminal, process = console
    feed_server.set("/f", rss_feed([{"title": "Old news", "guid": "1"}], title="TTY Letter"))
    await terminal.shows(PROMPT)
    terminal.type(f"feed add {feed_server.url('/f')} --backfill 0\r")
    await terminal.shows("Following TTY Letter")
    await terminal.shows(PROMPT, times=2)
    terminal.type("lat")  # half a command, no Enter yet
    await terminal.shows(PROMPT + "lat")
    feed_server.set(
        "/f",
        rss_feed(
            [{"title": "Fresh news", "guid": "2"}, {"title": "Old news", "guid": "1"}],
            title="TTY Letter",
        ),
    )
    await terminal.shows("Fresh news")  # the poller found it; the console printed it
    await terminal.shows(PROMPT + "lat", times=2)  # … above the prompt, drawn again
    arrived = terminal.screen.rindex("Fresh news")
    assert terminal.screen.rfind("\n", 0, arrived) > terminal.screen.rfind("lat", 0, arrived)
    terminal.type("est\r")  # the line typed around the post is one command: `latest`
    await terminal.shows("Fresh news", times=2)
    assert "Unknown command" not in terminal.screen and "is not a command" not in terminal.screen
    # The log went to a file beside the database, not between the conversation's lines.
    assert " INFO " not in terminal.screen
    assert "The log goes to" in terminal.screen
    log = (tmp_path / "tty.log").read_text(encoding="utf-8")
    assert " INFO " in log
    terminal.type("quit\r")
    await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    assert process.returncode == 0


@pytest.mark.parametrize("console", ["log-unwritable"], indirect=True)
async def test_a_log_file_that_cannot_be_written_keeps_only_warnings_on_the_screen(
    console: tuple[Terminal, asyncio.subprocess.Process],
) -> None:
    terminal, process = console
    await terminal.shows(PROMPT)
    terminal.type("feed list\r")
    await terminal.shows("No feeds yet")
    assert "The log cannot be written to" in terminal.screen
    assert " INFO " not in terminal.screen and "Traceback" not in terminal.screen
    terminal.type("quit\r")
    await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    assert process.returncode == 0


async def test_a_terminal_that_hangs_up_ends_the_run_cleanly(
    console: tuple[Terminal, asyncio.subprocess.Process],
) -> None:
    terminal, process = console
    await terminal.shows(PROMPT)
    asyncio.get_running_loop().remove_reader(terminal.master)
    os.close(terminal.master)  # the window closed: the prompt's read fails (EIO)
    terminal.master = os.open(os.devnull, os.O_RDONLY)  # for the fixture to close
    await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    assert process.returncode == 0
