"""The console loop: read a line, run the command, print the answer; deliveries print too.

Where typed lines come from, and how answers reach the screen: stdin is one of three things:

- a terminal: a person types; lines are read with the standard library's `readline` where
  the platform has it (up-arrow history, line editing), and text printed while they type
  (a post, a warning) appears above the prompt, which is drawn again with what they had typed;
- a pipe or a file (`digestbot run < commands.txt`): each line is a command; the end of the
  input ends the run;
- nothing: closed (`<&-`) or a device that never has a line (`< /dev/null`, what a container
  gets without `-i`): there is no one to talk to (see `bot.__main__.cmd_run`).

Lines are read on a daemon thread, one line per request: the event loop never waits on the
terminal, and a stop signal can end the process while a read is pending.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from bot.config import Settings
from bot.console.commands import (
    CONSOLE_CHANNEL_LABEL,
    ConsoleContext,
    UsageError,
    help_text,
    resolve,
    split_line,
    unknown_command,
)
from bot.delivery.senders import ConsoleSender
from bot.delivery.terminal import to_text
from bot.features.digest.service import NotSubscribedError
from bot.features.feeds.filters import FilterError
from bot.features.feeds.render import render_filter_refused, render_not_posted_in
from bot.features.feeds.subscription_filter import ChannelNotFollowingError
from bot.features.posts.format import TemplateError
from bot.i18n import _, set_locale
from bot.ingest.errors import FeedError
from bot.ops.logs import configure_logging
from bot.runtime import Runtime
from bot.safe import strip_control

log = logging.getLogger(__name__)
PROMPT = "digestbot> "

StdinKind = Literal["terminal", "piped", "none"]


def stdin_kind() -> StdinKind:
    """What this process's stdin is (see the module doc)."""
    if sys.stdin is None:  # the interpreter found fd 0 closed at start
        return "none"
    try:
        fd = sys.stdin.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return "none"
    if os.isatty(fd):
        return "terminal"
    # /dev/null and its kind: a character device that is not a terminal never has a line.
    return "none" if stat.S_ISCHR(mode) else "piped"


class ConsoleTerminal:
    """Reads the console's lines and writes its text, for one kind of stdin."""

    def __init__(self, kind: StdinKind) -> None:
        self.kind = kind
        self._readline: ModuleType | None = None
        if kind == "terminal":  # importing readline gives `input()` history and editing
            with contextlib.suppress(ImportError):  # a platform without it
                import readline

                self._readline = readline
        # Redrawing the prompt needs readline's view of the line, and a screen to draw on.
        self._redraw = self._readline is not None and sys.stdout is not None and sys.stdout.isatty()
        self._pending = b""  # bytes of a piped line read past its newline
        self._prompting = False  # a prompt (and what is typed after it) is on screen
        self._lock = threading.Lock()
        self._saved_tty: list[Any] | None = None  # termios attributes
        if kind == "terminal":
            try:
                import termios
            except ImportError:
                return
            with contextlib.suppress(OSError, termios.error):
                self._saved_tty = termios.tcgetattr(sys.stdin.fileno())

    def write(self, text: str) -> None:
        """Print text (answers, posts, warnings: never escape sequences of its own). While
        someone is typing, the text goes above the prompt and the prompt is drawn again."""
        text = strip_control(text)
        with self._lock:
            if self._prompting and self._redraw and self._readline is not None:
                typed = self._readline.get_line_buffer()
                sys.stdout.write(f"\r\x1b[K{text}\n{PROMPT}{typed}")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()

    async def readline(self) -> str | None:
        """The next line without its line break; None at the end of the input."""
        # Once running, the future cannot be cancelled under the thread; asyncio.wrap_future
        # drops the line if the awaiting task was cancelled or the loop closed meanwhile.
        answer: concurrent.futures.Future[str | None] = concurrent.futures.Future()

        def read() -> None:
            if not answer.set_running_or_notify_cancel():  # cancelled before the thread ran
                return
            try:
                answer.set_result(self._read_line())
            except OSError:  # the terminal hung up (EIO), or stdin went away: the end
                answer.set_result(None)
            except Exception as exc:  # handed to the awaiting coroutine
                answer.set_exception(exc)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        return await asyncio.wrap_future(answer)

    def _read_line(self) -> str | None:
        if self.kind == "terminal":
            with self._lock:
                self._prompting = True
            try:
                return input(PROMPT)
            except EOFError:  # Ctrl-D
                sys.stdout.write("\n")
                return None
            finally:
                with self._lock:
                    self._prompting = False
        return self._read_piped_line()

    def _read_piped_line(self) -> str | None:
        """One line of a pipe or file, read straight from the descriptor (no buffered
        reader whose lock a pending read would hold at exit)."""
        fd = sys.stdin.fileno()
        while b"\n" not in self._pending:
            chunk = os.read(fd, 65536)
            if not chunk:  # the end: what is left is the last line, without its line break
                if not self._pending:
                    return None
                break
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def restore(self) -> None:
        """Leave the terminal as we found it: a read still pending at exit (a stop signal
        while the prompt waits) has it in readline's editing mode."""
        if self._saved_tty is None:
            return
        import termios

        with contextlib.suppress(OSError, termios.error):  # a terminal that hung up
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved_tty)
        if self._prompting:
            sys.stdout.write("\n")
            sys.stdout.flush()


class TerminalWarnings(logging.Handler):
    """While the log goes to a file, warnings and errors still show in the conversation,
    one line each, above the prompt."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            first = record.getMessage().splitlines()[0] if record.getMessage() else ""
            self._write(f"[{record.levelname.lower()}] {first}")
        except Exception:
            self.handleError(record)


async def run_command(ctx: ConsoleContext, line: str) -> str | None:
    """Run one typed line; return the answer (None for an empty line)."""
    words = split_line(line)
    if not words:
        return None
    if words[0].lower() in ("help", "?"):
        return help_text()
    found = resolve(words)
    if found is None:
        return unknown_command(words)
    command, args = found
    try:
        return await command.handler(ctx, args)
    except UsageError as exc:
        return _("{problem}\nusage: {usage}", problem=exc, usage=command.usage)
    except (NotSubscribedError, ChannelNotFollowingError):  # a feed this console does not post
        return to_text(render_not_posted_in(CONSOLE_CHANNEL_LABEL))
    except FilterError as exc:
        return to_text(render_filter_refused(exc.message))
    except TemplateError as exc:
        return exc.message
    except FeedError as exc:
        return _("Sorry: {problem}", problem=exc.message)
    except ValueError as exc:
        return _("Sorry: {problem}", problem=exc)


def move_log_off_screen(settings: Settings, terminal: ConsoleTerminal) -> Path | None:
    """On a terminal whose stderr is the same screen, send the log to a file (beside the
    SQLite database, else here) so it never lands between the lines of the conversation;
    returns that file. Piped input keeps the log on stderr (None); so does a file that cannot
    be written, with only warnings and errors."""
    if terminal.kind != "terminal" or sys.stderr is None or not sys.stderr.isatty():
        return None
    db = str(settings.db_path)
    log_file = Path("digestbot.log") if "://" in db else Path(db).with_suffix(".log")
    try:
        configure_logging(settings, file=log_file)
    except OSError as exc:
        configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
        terminal.write(
            _(
                "The log cannot be written to {file} ({error}): only its warnings and errors "
                "show here.",
                file=log_file,
                error=exc.strerror or exc,
            )
        )
        return None
    return log_file


PIPED_FINISH_S = 60.0  # the longest a piped run waits, at its end, for posts still queued


async def _let_the_outbox_finish(runtime: Runtime) -> None:
    """Piped input ended: the posts its commands queued go out at the outbox's pace (5 per 5 s
    to a channel), so wait for the outbox to empty before the run ends, at most
    PIPED_FINISH_S; anything still queued then is sent at the next run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PIPED_FINISH_S
    while loop.time() < deadline and not runtime.stop.is_set():
        counts = await runtime.store.deliveries.counts()
        if counts["pending"] + counts["sending"] == 0:
            return
        await asyncio.sleep(0.2)
    log.warning("input ended with posts still queued: they are sent at the next run")


async def run_console(
    runtime: Runtime, terminal: ConsoleTerminal, *, log_file: Path | None = None
) -> None:
    """Run the bot on this terminal until `quit`, the end of the input, or a signal. With the
    log in `log_file`, warnings and errors still show, one line each."""
    # The console's words and dates are in DIGESTBOT_LOCALE (posts are in the channel's
    # language: the same, unless `language channel` chose another).
    set_locale(runtime.settings.locale)
    out = terminal.write
    runtime.attach_sender(ConsoleSender(out))
    warnings: logging.Handler | None = None
    if log_file is not None:
        warnings = TerminalWarnings(out)
        logging.getLogger().addHandler(warnings)
        out(_("The log goes to {file}.", file=log_file))
    await runtime.start()
    ctx = ConsoleContext(runtime, out)
    if terminal.kind == "terminal":
        out(_("digestbot console mode (no DISCORD_TOKEN set): this terminal is the channel."))
        out(
            _(
                "Type `help` for commands, `quit` to stop. Try: {example}",
                example="feed add https://www.interconnects.ai",
            )
        )
    stop_wait = asyncio.ensure_future(runtime.stop.wait())
    try:
        while not runtime.stop.is_set():
            read = asyncio.ensure_future(terminal.readline())
            await asyncio.wait([read, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                break
            line = read.result()
            if line is None:  # end of the input: Ctrl-D, or the end of a pipe or file
                if terminal.kind != "terminal":
                    await _let_the_outbox_finish(runtime)
                break
            line = line.strip()
            if line.lower() in ("quit", "exit"):
                break
            try:
                answer = await run_command(ctx, line)
            except Exception:
                log.exception("console command failed: %s", line)
                answer = _("Sorry, that command failed; the log has the details.")
            if answer:
                out(answer)
    finally:
        stop_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_wait
        terminal.restore()
        if warnings is not None:
            logging.getLogger().removeHandler(warnings)
