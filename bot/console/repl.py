"""The console loop: read a line, run the command, print the answer; deliveries print too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path

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
from bot.console.terminal import ConsoleTerminal, TerminalWarnings
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

log = logging.getLogger(__name__)


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
