"""Keeping the database healthy: integrity and schema reports (read-only, never migrating),
online backups, retention with tombstones, the numbers /metrics shows, a writability probe."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from bot.store.db import (
    APPLICATION_ID,
    Backend,
    fetch_one,
    latest_schema_version,
    marks,
    read_only_connection,
)
from bot.store.postgres import SCHEMA_TABLE, is_postgres

# Deliveries in these states still need their item: it is not pruned yet.
_WAITING_STATES = ("pending", "sending", "paused")


def integrity_check(path: Path) -> list[str]:
    """The problems `PRAGMA integrity_check` reports ([]: sound); a file too damaged to be
    read at all is one problem, SQLite's message."""
    try:
        with read_only_connection(path) as conn:
            try:
                rows = conn.execute("PRAGMA integrity_check").fetchall()
            except sqlite3.DatabaseError as exc:
                return [str(exc)]
    except sqlite3.Error as exc:
        return [f"cannot open the database: {exc}"]
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


@dataclass(frozen=True, slots=True)
class SchemaReport:
    path: Path
    exists: bool
    application_id: int = 0
    version: int = 0
    code_version: int = 0
    journal_mode: str = ""
    has_tables: bool = False
    error: str | None = None  # the file could not be read as a database

    @property
    def foreign(self) -> bool:
        """Another application's SQLite file (digestbot refuses to write into it)."""
        return self.application_id not in (0, APPLICATION_ID) or (
            self.application_id == 0 and self.has_tables
        )

    @property
    def too_new(self) -> bool:
        return self.version > self.code_version

    @property
    def behind(self) -> bool:
        """Older than the code: the next start migrates it."""
        return self.version < self.code_version


def schema_report(path: Path) -> SchemaReport:
    """Schema version against the code's, application id and journal mode, read-only."""
    code = latest_schema_version()
    if not path.exists():
        return SchemaReport(path, exists=False, code_version=code)
    try:  # opening, or reading what is not a database
        with read_only_connection(path) as conn:
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.Error as exc:
        return SchemaReport(path, exists=True, code_version=code, error=str(exc))
    return SchemaReport(path, True, app_id, version, code, mode, tables > 0)


def subscribed_channels(path: Path) -> list[tuple[int, int]]:
    """(guild_id, channel_id) of every subscribed channel, read-only ([]: none yet)."""
    if not path.exists():
        return []
    with read_only_connection(path) as conn:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'subscriptions'"
        ).fetchone()
        if found is None:
            return []
        rows = conn.execute(
            "SELECT DISTINCT guild_id, channel_id FROM subscriptions ORDER BY guild_id, channel_id"
        ).fetchall()
    return [(int(guild), int(channel)) for guild, channel in rows]


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size_bytes: int
    seconds: float


def backup_file(source: Path, dest: Path) -> BackupResult:
    """Copy the database with SQLite's online backup API, safe while the bot writes (one
    read transaction: a consistent snapshot). Written beside `dest`, switched to a single-file
    journal (no -wal needed to open it), synced, then renamed over `dest`."""
    started = time.perf_counter()
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            read_only_connection(source) as src,
            contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as dst,
        ):
            src.backup(dst)  # pages=-1: all pages in one step, one snapshot
            dst.execute("PRAGMA journal_mode = DELETE")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, dest)
    _fsync_dir(dest.parent)
    return BackupResult(dest, dest.stat().st_size, time.perf_counter() - started)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every system can sync a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def prune(db: Backend, older_than: float, *, batch: int = 500) -> int:
    """Delete items published and first seen before the unix time `older_than` (and their
    index rows), leaving a tombstone (feed, stable id, raw fingerprint) each: a pruned item
    still in its feed is never archived or posted again. Items with a waiting delivery are
    kept. Batches of one short write transaction each let the bot's writes interleave.
    Returns how many items were pruned."""
    total = 0
    while True:
        async with db.transaction() as tx:
            rows = list(
                await tx.execute_fetchall(
                    "SELECT i.id, i.feed_id, i.stable_id, i.raw_hash FROM items i "
                    "WHERE i.published_at < ? AND i.first_seen_at < ? AND NOT EXISTS ("
                    "SELECT 1 FROM deliveries d WHERE d.item_id = i.id "
                    f"AND d.state IN ({marks(_WAITING_STATES)})) LIMIT ?",
                    (older_than, older_than, *_WAITING_STATES, batch),
                )
            )
            if not rows:
                return total
            now = time.time()
            await tx.executemany(
                "INSERT INTO item_tombstones (feed_id, stable_id, raw_hash, pruned_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (feed_id, stable_id) DO NOTHING",
                [(row[1], row[2], row[3], now) for row in rows],
            )
            await tx.executemany("DELETE FROM items WHERE id = ?", [(row[0],) for row in rows])
        total += len(rows)
        if len(rows) < batch:
            return total


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """The numbers /metrics shows about the database."""

    feeds: int
    feeds_failing: int
    items: int
    deliveries_pending: int


async def store_counts(db: Backend) -> StoreCounts:
    counts = await fetch_one(
        db.reader,
        StoreCounts,
        "SELECT (SELECT count(*) FROM feeds), "
        "(SELECT count(*) FROM feeds WHERE consecutive_errors > 0 AND disabled = 0), "
        "(SELECT count(*) FROM items), "
        "(SELECT count(*) FROM deliveries WHERE state IN ('pending', 'sending'))",
    )
    assert counts is not None
    return counts


async def probe_writable(db: Backend) -> None:
    """A tiny real write (a value rewritten unchanged): raises when the database cannot be
    written now (read-only, full disk, I/O error, closed, locked by someone else)."""
    async with db.transaction() as tx:
        if is_postgres(tx):
            await tx.execute(f"UPDATE {SCHEMA_TABLE} SET version = version")
        else:
            await tx.execute(f"PRAGMA application_id = {APPLICATION_ID}")
