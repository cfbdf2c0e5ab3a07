"""`feed import FILE` and `feed export [FILE]` at the console: `/feed import` and `/feed
export` with files on this machine in place of Discord attachments; the same service and the
same rendered answers."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.console.registry import (
    CONSOLE_CHANNEL_ID,
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    Answer,
    Arg,
    ConsoleContext,
    command,
)
from bot.delivery.terminal import to_text
from bot.features.feeds import render
from bot.features.feeds.opml import MAX_OPML_BYTES, OpmlError
from bot.features.feeds.render import EXPORT_FILE
from bot.i18n import N_, _, ngettext

PROGRESS_EVERY_S = 3.0  # a long import prints its progress this often


def _read_capped(path: Path) -> bytes:
    """The file's bytes, at most one over the cap (enough to know it is too large)."""
    with path.expanduser().open("rb") as handle:
        return handle.read(MAX_OPML_BYTES + 1)


@command(
    "feed import",
    N_("follow every feed of an OPML file (from another reader)"),
    Arg("file", metavar="FILE"),
    Arg("--mode", choices=("instant", "digest"), default=None, metavar="instant|digest"),
)
async def feed_import(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    path = Path(args.file)
    try:
        data = await asyncio.to_thread(_read_capped, path)
    except FileNotFoundError:
        return _("Sorry: there is no file {path}.", path=path)
    except OSError as exc:
        return _("Sorry: cannot read {path}: {error}.", path=path, error=exc.strerror or exc)
    if len(data) > MAX_OPML_BYTES:
        return render.render_import_too_large()
    clock = ctx.runtime.clock
    shown_at = clock()

    async def progress(done: int, total: int) -> None:
        nonlocal shown_at
        if clock() - shown_at >= PROGRESS_EVERY_S and done < total:
            shown_at = clock()
            ctx.write(to_text(render.render_import_progress(done, total)))

    try:
        results = await ctx.runtime.subscriptions.import_feeds(
            data,
            guild_id=CONSOLE_GUILD_ID,
            channel_id=CONSOLE_CHANNEL_ID,
            mode=args.mode,
            added_by=CONSOLE_USER_ID,
            progress=progress,
        )
    except OpmlError as exc:
        return render.render_import_refused(str(exc))
    # The console shows the report itself where Discord attaches it as a file.
    return render.render_import_report(results)


@command(
    "feed export",
    N_("write the followed feeds as an OPML file (default ./digestbot-feeds.opml)"),
    Arg("file", nargs="?", default=EXPORT_FILE, metavar="FILE"),
)
async def feed_export(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    exported = await ctx.runtime.subscriptions.export(CONSOLE_GUILD_ID, "digestbot feeds")
    answer = render.render_export(exported.document, exported.count)
    if not answer.files:
        return answer
    path = Path(args.file)
    try:
        await asyncio.to_thread(path.write_bytes, answer.files[0].data)
    except OSError as exc:
        return _("Sorry: cannot write {path}: {error}.", path=path, error=exc.strerror or exc)
    return ngettext(
        "Exported {count} feed to {path}.",
        "Exported {count} feeds to {path}.",
        exported.count,
        path=path,
    )
