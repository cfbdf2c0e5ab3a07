"""The console prompt: read a line, run the command, print the answer; deliveries print too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Protocol

import bot.console.commands  # noqa: F401  (registers the commands)
from bot.console.registry import ConsoleContext, UsageError, help_text, resolve, split_line
from bot.delivery.senders import ConsoleSender
from bot.ingest.errors import FeedError
from bot.runtime import Runtime
from bot.safe import strip_control

log = logging.getLogger(__name__)

PROMPT = "digestbot> "


async def run_command(ctx: ConsoleContext, line: str) -> str | None:
    """Run one typed line; return the answer (None for an empty line)."""
    words = split_line(line)
    if not words:
        return None
    if words[0].lower() in ("help", "?"):
        return help_text()
    found = resolve(words)
    if found is None:
        return f"Unknown command {words[0]!r}. Type `help` for the list."
    command, args = found
    try:
        return await command.handler(ctx, args)
    except UsageError as exc:
        return f"{exc}\nusage: {command.usage}"
    except FeedError as exc:
        return f"Sorry: {exc.message}"
    except ValueError as exc:
        return f"Sorry: {exc}"


class _LineSource(Protocol):
    async def readline(self) -> bytes: ...


class _FileLines:
    """stdin redirected from a regular file (`digestbot run < commands.txt`): the event loop
    cannot watch a file, but reading one never waits on anyone, so a thread reads it."""

    async def readline(self) -> bytes:
        return await asyncio.to_thread(sys.stdin.buffer.readline)


async def _stdin_lines() -> _LineSource | None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:
        return _FileLines()  # a regular file
    except OSError:
        return None  # stdin is closed: no prompt, the bot just runs
    return reader


async def run_console(runtime: Runtime, *, write: Callable[[str], None] | None = None) -> None:
    """Run the bot in the terminal until `quit`, end of input on a terminal, or a signal."""
    # Whatever reaches the terminal (answers, deliveries) carries no escape sequences.
    out = write or (lambda text: print(strip_control(text), flush=True))
    runtime.attach_sender(ConsoleSender(out))
    await runtime.start()
    ctx = ConsoleContext(runtime, out)
    interactive = sys.stdin.isatty()
    out("digestbot console mode (no DISCORD_TOKEN set): this terminal is the channel.")
    out("Type `help` for commands, `quit` to stop. Try: feed add https://www.interconnects.ai")
    reader = await _stdin_lines()
    stop_wait = asyncio.ensure_future(runtime.stop.wait())
    try:
        while reader is not None and not runtime.stop.is_set():
            if interactive:
                sys.stdout.write(PROMPT)
                sys.stdout.flush()
            read = asyncio.ensure_future(reader.readline())
            await asyncio.wait([read, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                break
            raw = read.result()
            if not raw:  # end of input
                if interactive:
                    break
                reader = None
                break
            line = raw.decode("utf-8", "replace").strip()
            if line.lower() in ("quit", "exit"):
                break
            try:
                answer = await run_command(ctx, line)
            except Exception:
                log.exception("console command failed: %s", line)
                answer = "Sorry, that command failed; the log has the details."
            if answer:
                out(answer)
        if reader is None and not runtime.stop.is_set():
            await stop_wait  # no input to read: keep polling and printing until a signal
    finally:
        stop_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_wait
