"""The operator's commands: doctor, backup, prune, opml export/import.

`bot.__main__` adds them with `add_ops_commands(subparsers)` and runs them with
`dispatch_ops(args, settings)` (None: not one of these commands).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.config import Settings
from bot.features.feeds.opml import (
    MAX_OPML_BYTES,
    OpmlError,
    OpmlFeed,
    export_opml,
    import_opml,
    import_report,
    parse_opml,
)
from bot.features.feeds.service import FeedService
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.ops.backup import cmd_backup, cmd_prune
from bot.ops.doctor import run_doctor
from bot.store import Store

OPS_COMMANDS = ("doctor", "backup", "prune", "opml")


def add_ops_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check configuration, database, disk, token and channel permissions"
    )
    doctor.add_argument("--offline", action="store_true", help="skip the checks that call Discord")

    backup = subparsers.add_parser(
        "backup", help="copy the database (safe while the bot runs) and check the copy"
    )
    backup.add_argument("path", type=Path, help="the backup file, or a folder to put it in")
    backup.add_argument("--overwrite", action="store_true", help="replace an existing file")

    prune = subparsers.add_parser(
        "prune", help="delete old items (their ids are kept: never posted again)"
    )
    prune.add_argument(
        "--older-than",
        type=int,
        metavar="DAYS",
        dest="older_than",
        help="age in days (default: DIGESTBOT_RETENTION_DAYS)",
    )

    opml = subparsers.add_parser("opml", help="export or import the archive's feeds as OPML")
    actions = opml.add_subparsers(dest="opml_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write every archived feed as OPML")
    export.add_argument("file", nargs="?", type=Path, help="output file (default: stdout)")
    import_ = actions.add_parser("import", help="add every feed of an OPML file to the archive")
    import_.add_argument("file", type=Path)


async def dispatch_ops(args: argparse.Namespace, settings: Settings) -> int | None:
    command = getattr(args, "command", None)
    if command == "doctor":
        return await cmd_doctor(settings, online=not args.offline)
    if command == "backup":
        return await cmd_backup(settings, args.path, overwrite=args.overwrite)
    if command == "prune":
        return await cmd_prune(settings, args.older_than)
    if command == "opml" and args.opml_command == "export":
        return await cmd_opml_export(settings, args.file)
    if command == "opml" and args.opml_command == "import":
        return await cmd_opml_import(settings, args.file)
    return None


async def cmd_doctor(settings: Settings, *, online: bool) -> int:
    findings = await run_doctor(settings, online=online)
    for finding in findings:
        print(finding.render(), flush=True)
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = sum(1 for f in findings if f.severity == "warning")
    print(f"\n{errors} problem(s), {warnings} warning(s).", flush=True)
    return 1 if errors else 0


async def cmd_opml_export(settings: Settings, file: Path | None) -> int:
    store = await Store.open(settings.db_path)
    try:
        feeds = await store.feeds.all()
    finally:
        await store.close()
    document = export_opml(
        [OpmlFeed(f.display_title, f.url, f.site_url) for f in feeds], "digestbot feeds"
    )
    if file is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        await asyncio.to_thread(file.write_bytes, document)
        print(f"Exported {len(feeds)} feed(s) to {file}", file=sys.stderr, flush=True)
    return 0


def _read_capped(file: Path) -> bytes:
    with open(file, "rb") as handle:
        return handle.read(MAX_OPML_BYTES + 1)  # one byte over: parse_opml names the cap


async def cmd_opml_import(settings: Settings, file: Path) -> int:
    try:
        data = await asyncio.to_thread(_read_capped, file)
        feeds = await asyncio.to_thread(parse_opml, data)
    except OSError as exc:
        print(f"digestbot: cannot read {file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except OpmlError as exc:
        print(f"digestbot: {exc}", file=sys.stderr)
        return 1
    store = await Store.open(settings.db_path)
    fetcher = FeedFetcher(settings)
    try:
        service = FeedService(store, fetcher, FeedPipeline(store, fetcher), settings)

        async def progress(done: int, total: int) -> None:
            print(f"\r{done}/{total} feed(s)", end="", file=sys.stderr, flush=True)

        results = await import_opml(feeds, service.add, progress=progress)
        print(file=sys.stderr)
    finally:
        await fetcher.close()
        await store.close()
    for line in import_report(results):
        print(line, flush=True)
    return 1 if any(r.status == "failed" for r in results) else 0
