"""The SQLite connection pair (one serialized writer, one reader), pragmas and migrations."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

# "dgbt": written into the file header so we never write into someone else's SQLite file.
APPLICATION_ID = 0x64676274


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer digestbot."""


class ForeignDatabaseError(StoreError):
    """The file is an SQLite database of some other application."""


def load_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bot/store/migrations/NNNN_name.sql, in order."""
    found: list[tuple[int, str, str]] = []
    folder = resources.files("bot.store") / "migrations"
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] < 1):
        raise StoreError(f"migrations must have distinct numbers from 1 up: {versions}")
    return found


def latest_schema_version() -> int:
    """The number of the newest migration (numbers may skip one: branches reserve numbers)."""
    migrations = load_migrations()
    return migrations[-1][0] if migrations else 0


async def _configure(conn: aiosqlite.Connection, *, writer: bool) -> None:
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA foreign_keys = ON")
    if writer:
        await conn.execute("PRAGMA synchronous = NORMAL")
    else:
        await conn.execute("PRAGMA query_only = ON")


async def _pragma_int(conn: aiosqlite.Connection, name: str) -> int:
    async with conn.execute(f"PRAGMA {name}") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _migrate(conn: aiosqlite.Connection, path: Path) -> None:
    migrations = load_migrations()
    latest = migrations[-1][0] if migrations else 0
    app_id = await _pragma_int(conn, "application_id")
    version = await _pragma_int(conn, "user_version")
    async with conn.execute("SELECT count(*) FROM sqlite_master") as cursor:
        row = await cursor.fetchone()
    has_tables = bool(row and row[0])
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
        raise ForeignDatabaseError(
            f"{path} is an SQLite database of another application; digestbot will not write "
            "into it. Point DIGESTBOT_DB at a new file."
        )
    if version > latest:
        raise SchemaTooNewError(
            f"{path} has schema version {version}, but this digestbot only knows up to "
            f"{latest}: it was written by a newer digestbot. Upgrade digestbot, or restore a "
            "backup made by this version."
        )
    for number, name, sql in (m for m in migrations if m[0] > version):
        log.info("applying migration %04d_%s", number, name)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_sql(sql):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await conn.execute(f"PRAGMA user_version = {number}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if buffer.strip() and _complete(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _complete(sql: str) -> bool:
    return sqlite3.complete_statement(sql)


class Database:
    """One writer connection (all writes, serialized by a lock) and one read-only connection."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        path = Path(path)
        if str(path) != ":memory:" and path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            await _configure(writer, writer=True)
            async with writer.execute("PRAGMA journal_mode = WAL") as cursor:
                row = await cursor.fetchone()
            if not row or str(row[0]).lower() != "wal":
                raise StoreError(f"{path}: cannot switch the database to WAL mode")
            await _migrate(writer, path)
            reader = await aiosqlite.connect(path, isolation_level=None)
            await _configure(reader, writer=False)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE … COMMIT), serialized with every other write."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
                await self._writer.execute("COMMIT")
            except BaseException:
                # Also when COMMIT itself failed (disk full, I/O error): never leave the one
                # writer inside an open transaction, or every later write would fail.
                if self._writer.in_transaction:
                    await self._writer.execute("ROLLBACK")
                raise

    @property
    def reader(self) -> aiosqlite.Connection:
        """The read-only connection (WAL: it never waits for the writer)."""
        return self._reader

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            try:
                await self._writer.execute("PRAGMA optimize")
            except (ValueError, sqlite3.Error) as exc:  # already closed or broken: still close
                log.warning("closing the database: %s", exc)
            finally:
                await self._reader.close()
                await self._writer.close()
