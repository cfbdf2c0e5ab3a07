"""The SQLite connection pair (one serialized writer, one reader), pragmas and migrations;
and the surface the store's tables use on either backend (`Connection`, `Backend`)."""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import sqlite3
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite
import asyncpg

log = logging.getLogger(__name__)

# "dgbt": written into the file header so we never write into someone else's SQLite file.
APPLICATION_ID = 0x64676274

T = TypeVar("T")
Params = Iterable[Any] | Mapping[str, Any]


class Cursor(Protocol):
    """What a statement gave: aiosqlite's cursor, or the PostgreSQL backend's."""

    @property
    def rowcount(self) -> int: ...


class ReadConnection(Protocol):
    """The reader or a transaction's connection, of either backend (`?` or `:name`)."""

    def execute(self, sql: str, parameters: Params = ..., /) -> Awaitable[Cursor]: ...

    def execute_fetchall(
        self, sql: str, parameters: Params = ..., /
    ) -> Awaitable[Iterable[Any]]: ...


class Connection(ReadConnection, Protocol):
    """A transaction's connection, of either backend."""

    def executemany(self, sql: str, parameters: Iterable[Params], /) -> Awaitable[Any]: ...


class Backend:
    """A database the store's tables run on: SQLite's `Database` or PostgreSQL's
    (bot.store.postgres.PgDatabase). Its writes are serialized (one at a time per process)."""

    reader: ReadConnection
    path: Path | str  # the SQLite file, or the PostgreSQL URL without password

    def __init__(self) -> None:
        self._write_lock = asyncio.Lock()
        self._closed = False

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    async def write(self, sql: str, params: Params = ()) -> int:
        """One statement in its own write transaction; how many rows it changed."""
        async with self.transaction() as tx:
            cursor = await tx.execute(sql, params)
            return max(cursor.rowcount, 0)

    async def close(self) -> None:
        """Close once, when the write under way (if any) is done."""
        if not self._closed:
            self._closed = True
            async with self._write_lock:
                await self._close()

    async def _close(self) -> None:
        raise NotImplementedError


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer digestbot."""


class ForeignDatabaseError(StoreError):
    """The file is an SQLite database of some other application."""


_DISK_FULL = "the database disk is full: free space on the disk that holds {path} (DIGESTBOT_DB)"
_READ_ONLY = (
    "the database {path} cannot be written (read-only file, folder or disk): give the bot's "
    "user write access to the file and its folder (SQLite writes -wal and -shm files beside "
    "it), or point DIGESTBOT_DB at a writable place"
)
_DAMAGED = (
    "the database {path} is damaged ({detail}); digestbot will not write into it. Stop the "
    "bot, then restore a backup, or recover it: sqlite3 {path} .recover | sqlite3 "
    "recovered.db, and point DIGESTBOT_DB at recovered.db"
)
_FOLDER = (
    "configuration error: DIGESTBOT_DB points at the folder {path}: set it to a file in it, "
    "e.g. {example}"
)
# By SQLite's primary result code (the low byte of an extended code).
_PROBLEMS = {
    13: _DISK_FULL,  # SQLITE_FULL
    8: _READ_ONLY,  # SQLITE_READONLY
    3: _READ_ONLY,  # SQLITE_PERM
    11: _DAMAGED,  # SQLITE_CORRUPT
    26: (  # SQLITE_NOTADB
        "{path} is not an SQLite database (or its first page is damaged): point DIGESTBOT_DB "
        "at digestbot's database, or at a new file name to start an empty one"
    ),
    14: (  # SQLITE_CANTOPEN
        "cannot open the database {path}: check that its folder exists and that the bot's "
        "user may read and write the folder and the file (DIGESTBOT_DB)"
    ),
    10: (  # SQLITE_IOERR
        "disk I/O error on the database {path} ({detail}): check the disk and its free "
        "space, then run digestbot doctor"
    ),
    5: (  # SQLITE_BUSY
        "the database {path} stayed locked by another process: stop the other digestbot (or "
        "program) using it, then try again"
    ),
}


# A PostgreSQL server gone or refusing (asyncpg's connection errors, or the socket's).
_LOST_SERVER = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)


def _say(template: str, path: Path, detail: object = "") -> str:
    return template.format(path=path, detail=detail, example=path / "digestbot.db")


def storage_problem(exc: BaseException, path: Path | str) -> str | None:
    """The operator's one line (what to do) for a failure of the database itself (full disk,
    read-only, damaged, unreachable …); None for any other error (a bug: keep its traceback)."""
    if isinstance(exc, StoreError):
        return str(exc)
    if isinstance(path, str) and isinstance(exc, _LOST_SERVER):  # PostgreSQL: `path` is the URL
        return (
            f"lost the connection to the PostgreSQL database {path} ({exc}): check that the "
            "server runs and accepts the bot's connections (DIGESTBOT_DB)"
        )
    path = Path(path)
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if code is None or code & 0xFF not in _PROBLEMS:
        return None
    if code & 0xFF == 14 and path.is_dir():  # SQLITE_CANTOPEN: a folder
        return _say(_FOLDER, path)
    return _say(_PROBLEMS[code & 0xFF], path, exc)


@contextmanager
def read_only_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A blocking read-only connection that never creates the file (mode=ro), closed after."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        yield conn
    finally:
        conn.close()


def check_database_file(path: Path) -> None:
    """Before opening for writing, refuse a folder or a file that is not SQLite or fails
    `PRAGMA quick_check` (writing damages it further). Blocking: run it in a thread."""
    if path.is_dir():
        raise StoreError(_say(_FOLDER, path))
    if not path.exists() or path.stat().st_size == 0:
        return  # a new database
    with read_only_connection(path) as conn:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        more = f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
        raise StoreError(_say(_DAMAGED, path, f"quick_check: {problems[0]}{more}"))


def load_migrations(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """(version, name, sql) of each bot/store/<folder>/NNNN_name.sql, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in (resources.files("bot.store") / folder).iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f"{folder} are not numbered 1..n without gaps: {versions}")
    return found


def latest_schema_version() -> int:
    return len(load_migrations())


def pending_migrations(
    version: int, where: str, folder: str = "migrations"
) -> list[tuple[int, str, str]]:
    """The migrations a database at schema `version` still needs; SchemaTooNewError when a
    newer digestbot wrote it (`where` names the database)."""
    migrations = load_migrations(folder)
    if version > len(migrations):
        raise SchemaTooNewError(
            f"{where} has schema version {version}, but this digestbot only knows up to "
            f"{len(migrations)}: it was written by a newer digestbot. Upgrade digestbot, or "
            "restore a backup made by this version."
        )
    return migrations[version:]


async def fetch_one(
    conn: ReadConnection, make: Callable[..., T], sql: str, params: Params = ()
) -> T | None:
    """The first row as make(*columns), or None."""
    row = next(iter(await conn.execute_fetchall(sql, params)), None)
    return None if row is None else make(*row)


async def fetch_all(
    conn: ReadConnection, make: Callable[..., T], sql: str, params: Params = ()
) -> list[T]:
    """Every row as make(*columns)."""
    return [make(*row) for row in await conn.execute_fetchall(sql, params)]


async def scalar(conn: ReadConnection, sql: str, params: Params = ()) -> Any:
    """The first column of the first row (None: no row)."""
    return await fetch_one(conn, lambda first, *_: first, sql, params)


def marks(values: Iterable[object]) -> str:
    """One "?" per value, comma-separated: for an IN (…) list."""
    return ",".join("?" for _ in values)


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching `text` anywhere, taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def _configure(conn: aiosqlite.Connection, *, writer: bool) -> None:
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA foreign_keys = ON")
    if writer:
        await conn.execute("PRAGMA synchronous = NORMAL")
    else:
        await conn.execute("PRAGMA query_only = ON")


async def _migrate(conn: aiosqlite.Connection, path: Path) -> None:
    app_id = int(await scalar(conn, "PRAGMA application_id"))
    version = int(await scalar(conn, "PRAGMA user_version"))
    has_tables = bool(await scalar(conn, "SELECT count(*) FROM sqlite_master"))
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
        raise ForeignDatabaseError(
            f"{path} is an SQLite database of another application; digestbot will not write "
            "into it. Point DIGESTBOT_DB at a new file."
        )
    for number, name, sql in pending_migrations(version, str(path)):
        log.info("applying migration %04d_%s", number, name)
        try:  # one transaction (executescript alone would commit statement by statement)
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\n;PRAGMA application_id = {APPLICATION_ID};\n"
                f"PRAGMA user_version = {number};\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise


class Database(Backend):
    """One writer connection (all writes) and one read-only connection (`reader`; WAL: it
    never waits for the writer)."""

    reader: aiosqlite.Connection

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        super().__init__()
        self.path = path
        self._writer = writer
        self.reader = reader

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating and migrating) the database. A file that cannot be used (a folder,
        not SQLite, damaged, read-only, full disk) raises StoreError with the operator's line."""
        path = Path(path)
        try:
            return await cls._open(path)
        except OSError as exc:  # creating its folder, or looking at the file
            if exc.errno == errno.ENOSPC:
                raise StoreError(_say(_DISK_FULL, path)) from exc
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise StoreError(_say(_READ_ONLY, path)) from exc
            raise StoreError(f"cannot use the database {path}: {exc.strerror or exc}") from exc
        except sqlite3.Error as exc:
            problem = storage_problem(exc, path)
            if problem is None:
                raise
            raise StoreError(problem) from exc

    @classmethod
    async def _open(cls, path: Path) -> Database:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            # Also keeps aiosqlite from failing to connect: its worker thread then outlives
            # the event loop and prints an "Event loop is closed" traceback at exit.
            await asyncio.to_thread(check_database_file, path)
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            await _configure(writer, writer=True)
            if str(await scalar(writer, "PRAGMA journal_mode = WAL")).lower() != "wal":
                raise StoreError(f"{path}: cannot switch the database to WAL mode")
            await _migrate(writer, path)
            # A real write now (the header's application id, rewritten unchanged): a read-only
            # file, folder or mount is named at start, not at the first poll.
            await writer.execute("BEGIN IMMEDIATE")
            await writer.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await writer.execute("COMMIT")
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

    async def _close(self) -> None:
        try:
            await self._writer.execute("PRAGMA optimize")
        except (ValueError, sqlite3.Error) as exc:  # already closed or broken: still close
            log.warning("closing the database: %s", exc)
        finally:
            await self.reader.close()
            await self._writer.close()


class Table:
    """The base of the store's per-table classes: one Backend, read through its reader."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    async def _one(self, make: Callable[..., T], sql: str, params: Params = ()) -> T | None:
        return await fetch_one(self._db.reader, make, sql, params)

    async def _all(self, make: Callable[..., T], sql: str, params: Params = ()) -> list[T]:
        return await fetch_all(self._db.reader, make, sql, params)

    async def _scalar(self, sql: str, params: Params = ()) -> Any:
        return await scalar(self._db.reader, sql, params)
