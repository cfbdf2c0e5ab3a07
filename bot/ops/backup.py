"""Backups and retention from the command line, and the retention loop the running bot uses."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.i18n import _, ngettext
from bot.store import Store
from bot.store.db import Backend, check_database_file
from bot.store.maintenance import backup_file, integrity_check, prune

log = logging.getLogger(__name__)

DAY_S = 86400.0
RETENTION_EVERY_S = 6 * 3600.0


def _refuse(text: str, status: int = 1) -> int:
    """Tell the operator why the command did nothing; its exit status."""
    print(f"digestbot: {text}", file=sys.stderr, flush=True)
    return status


def backup_destination(dest: Path) -> Path:
    """`dest` itself, or a timestamped file inside it when it is a directory."""
    return dest / f"digestbot-{datetime.now(UTC):%Y%m%d-%H%M%S}.db" if dest.is_dir() else dest


async def cmd_backup(settings: Settings, dest: Path, *, overwrite: bool = False) -> int:
    """`digestbot backup PATH`: an online copy, safe while the bot runs, then checked."""
    source = settings.db_path
    if settings.db_url is not None:
        return _refuse(
            _(
                "the database is PostgreSQL (DIGESTBOT_DB): back it up with PostgreSQL's own "
                "tools, e.g. pg_dump --format=custom"
            )
        )
    if not source.exists():
        return _refuse(_("there is no database at {path} (DIGESTBOT_DB) to back up", path=source))
    target = backup_destination(dest)
    if target.exists() and target.resolve() == source.resolve():
        return _refuse(_("{path} is the database itself; choose another path", path=target))
    if target.exists() and not overwrite:
        return _refuse(
            _("{path} already exists; choose another path or add --overwrite", path=target)
        )
    if not target.parent.is_dir():
        return _refuse(_("the folder {folder} does not exist", folder=target.parent))
    # A folder, a file that is not SQLite or a damaged database: say so (exit 78, like every
    # command) instead of copying it; what fails after this check is the backup's side.
    await asyncio.to_thread(check_database_file, source)
    try:
        result = await asyncio.to_thread(backup_file, source, target)
    except (sqlite3.Error, OSError) as exc:
        return _refuse(
            _(
                "cannot write the backup {path} ({error}): check the free space and "
                "permissions there, or choose another path",
                path=target,
                error=exc,
            )
        )
    problems = await asyncio.to_thread(integrity_check, target)
    if problems:
        return _refuse(
            _(
                "the backup at {path} fails the integrity check ({problems}); the database "
                "itself may be damaged: run digestbot doctor",
                path=target,
                problems="; ".join(problems[:3]),
            )
        )
    print(
        _(
            "Backup written to {path} ({size} MiB in {seconds}s); integrity check passed.",
            path=target,
            size=f"{result.size_bytes / 1024 / 1024:.1f}",
            seconds=f"{result.seconds:.2f}",
        ),
        flush=True,
    )
    return 0


async def cmd_prune(settings: Settings, days: int | None) -> int:
    """`digestbot prune --older-than DAYS` (or DIGESTBOT_RETENTION_DAYS)."""
    days = days if days is not None else settings.retention_days
    if days is None:
        return _refuse(_("say how old: --older-than DAYS, or set DIGESTBOT_RETENTION_DAYS"), 2)
    if days < 1:
        return _refuse(_("--older-than must be at least 1 day"), 2)
    store = await Store.open(settings.db_path)
    try:
        count = await prune(store.db, time.time() - days * DAY_S)
    finally:
        await store.close()
    # TRANSLATORS: the {age} of "Pruned … more than {age} ago".
    age = ngettext("{count} day", "{count} days", days)
    print(
        ngettext(
            "Pruned {count} item stored and published more than {age} ago (age counts from "
            "when the bot stored an item, so a new feed's old posts stay that long); its id is "
            "kept so it is never posted again.",
            "Pruned {count} items stored and published more than {age} ago (age counts from "
            "when the bot stored an item, so a new feed's old posts stay that long); their "
            "ids are kept so they are never posted again.",
            count,
            age=age,
        ),
        flush=True,
    )
    return 0


async def prune_expired(db: Backend, days: int, now: float) -> int:
    """One round of DIGESTBOT_RETENTION_DAYS: prune items older than `days` (the runtime runs
    it at start and every RETENTION_EVERY_S)."""
    count = await prune(db, now - days * DAY_S)
    if count:
        log.info("retention: pruned %d item(s) older than %d day(s)", count, days)
    return count
