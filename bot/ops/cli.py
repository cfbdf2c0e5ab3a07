"""The operator's commands: doctor, backup, prune, migrate-to (`bot.__main__` adds them with
`add_ops_commands`; each leaf's `run` default carries it out)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from bot.config import Settings
from bot.i18n import _, ngettext
from bot.ops.backup import cmd_backup, cmd_prune
from bot.ops.doctor import run_doctor
from bot.store.postgres import is_postgres_url, redacted
from bot.store.transfer import migrate_to


def add_ops_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help=_("check configuration, database, disk, token and channel permissions")
    )
    doctor.set_defaults(run=lambda settings, args: cmd_doctor(settings, online=not args.offline))
    doctor.add_argument(
        "--offline", action="store_true", help=_("skip the checks that call Discord")
    )

    backup = subparsers.add_parser(
        "backup", help=_("copy the database (safe while the bot runs) and check the copy")
    )
    backup.set_defaults(
        run=lambda settings, args: cmd_backup(settings, args.path, overwrite=args.overwrite)
    )
    backup.add_argument("path", type=Path, help=_("the backup file, or a folder to put it in"))
    backup.add_argument("--overwrite", action="store_true", help=_("replace an existing file"))

    prune = subparsers.add_parser(
        "prune", help=_("delete old items (their ids are kept: never posted again)")
    )
    prune.set_defaults(run=lambda settings, args: cmd_prune(settings, args.older_than))
    prune.add_argument(
        "--older-than",
        type=int,
        metavar="DAYS",
        dest="older_than",
        help=_(
            "delete items stored (and published) more than DAYS days ago; age counts from "
            "when the bot stored an item (default: DIGESTBOT_RETENTION_DAYS)"
        ),
    )

    move = subparsers.add_parser(
        "migrate-to", help=_("copy the SQLite archive into an empty PostgreSQL database")
    )
    move.set_defaults(run=lambda settings, args: cmd_migrate_to(settings, args.url))
    move.add_argument("url", help=_("postgresql://user:password@host:port/database"))


async def cmd_doctor(settings: Settings, *, online: bool) -> int:
    findings = await run_doctor(settings, online=online)
    for finding in findings:
        print(finding.render(), flush=True)
    count = Counter(finding.severity for finding in findings)
    summary = _(
        "{problems}, {warnings}.",
        problems=ngettext("{count} problem", "{count} problems", count["error"]),
        warnings=ngettext("{count} warning", "{count} warnings", count["warning"]),
    )
    print(f"\n{summary}", flush=True)
    return 1 if count["error"] else 0


async def cmd_migrate_to(settings: Settings, url: str) -> int:
    """`digestbot migrate-to URL`: copy DIGESTBOT_DB (SQLite) into an empty PostgreSQL
    database and report what was copied. Then stop the bot, set DIGESTBOT_DB to the URL and
    start it again: pending posts are sent once, from PostgreSQL."""
    if not is_postgres_url(url):
        print(_("digestbot: migrate-to takes a postgresql:// URL"), file=sys.stderr)
        return 2
    if settings.db_url is not None:
        print(
            _("digestbot: DIGESTBOT_DB is already PostgreSQL; migrate-to copies an SQLite file"),
            file=sys.stderr,
        )
        return 2
    report = await migrate_to(settings.db_path, url)
    for table, count in report.counts.items():
        print(f"{table:<24} {count:>9}", flush=True)
    copied = _(
        "Copied {path} into {database}. Stop the bot, set DIGESTBOT_DB to the URL and start "
        "it again.",
        path=settings.db_path,
        database=redacted(url),
    )
    print(f"\n{copied}", flush=True)
    return 0
