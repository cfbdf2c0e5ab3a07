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
from bot.store import Store
from bot.store.db import Backend, check_database_file
from bot.store.maintenance import backup_file, integrity_check, prune

log = logging.getLogger(__name__)

DAY_S = 86400.0
RETENTION_EVERY_S = 6 * 3600.0


def _complain(text: str) -> None:
    print(f"digestbot: {text}", file=sys.stderr, flush=True)


def backup_destination(dest: Path) -> Path:
    """`dest` itself, or a timestamped file inside it when it is a directory."""
    if dest.is_dir():
        return dest / f"digestbot-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"
    return dest


async def cmd_backup(settings: Settings, dest: Path, *, overwrite: bool = False) -> int:
    """`digestbot backup PATH`: an online copy, safe while the bot runs, then checked."""
    source = settings.db_path
    if settings.db_url is not None:
        _complain(
            "the database is PostgreSQL (DIGESTBOT_DB): back it up with PostgreSQL's own "
            "tools, e.g. pg_dump --format=custom"
        )
        return 1
    if not source.exists():
        _complain(f"there is no database at {source} (DIGESTBOT_DB) to back up")
        return 1
    target = backup_destination(dest)
    if target.exists() and target.resolve() == source.resolve():
        _complain(f"{target} is the database itself; choose another path")
        return 1
    if target.exists() and not overwrite:
        _complain(f"{target} already exists; choose another path or add --overwrite")
        return 1
    if not target.parent.is_dir():
        _complain(f"the folder {target.parent} does not exist")
        return 1
    # A folder, a file that is not SQLite or a damaged database: say so (exit 78, like every
    # command) instead of copying it; what fails after this check is the backup's side.
    await asyncio.to_thread(check_database_file, source)
    try:
        result = await asyncio.to_thread(backup_file, source, target)
    except (sqlite3.Error, OSError) as exc:
        _complain(
            f"cannot write the backup {target} ({exc}): check the free space and permissions "
            "there, or choose another path"
        )
        return 1
    problems = await asyncio.to_thread(integrity_check, target)
    if problems:
        _complain(
            f"the backup at {target} fails the integrity check ({'; '.join(problems[:3])}); "
            "the database itself may be damaged: run digestbot doctor"
        )
        return 1
    print(
        f"Backup written to {target} ({result.size_bytes / 1024 / 1024:.1f} MiB in "
        f"{result.seconds:.2f}s); integrity check passed.",
        flush=True,
    )
    return 0


async def cmd_prune(settings: Settings, days: int | None) -> int:
    """`digestbot prune --older-than DAYS` (or DIGESTBOT_RETENTION_DAYS)."""
    days = days if days is not None else settings.retention_days
    if days is None:
        _complain("say how old: --older-than DAYS, or set DIGESTBOT_RETENTION_DAYS")
        return 2
    if days < 1:
        _complain("--older-than must be at least 1 day")
        return 2
    store = await Store.open(settings.db_path)
    try:
        count = await prune(store.db, time.time() - days * DAY_S)
    finally:
        await store.close()
    print(
        f"Pruned {count} item(s) stored and published more than {days} day(s) ago (age counts "
        "from when the bot stored an item, so a new feed's old posts stay that long); their "
        "ids are kept so they are never posted again.",
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
