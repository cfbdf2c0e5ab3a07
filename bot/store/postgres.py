"""The PostgreSQL backend: bot.store.db.Backend on an asyncpg pool.

The store's SQL is written once, in SQLite's style (`?` or `:name` parameters); here it runs
on PostgreSQL: parameters become `$n`, and a loose value SQLite accepts (an int for a float, a
bool for an integer flag, a number for text) is converted to the declared parameter type when
asyncpg refuses it. Where the dialects truly differ, the store asks `is_postgres(conn)`.
Writes are serialized within the process (like SQLite's one writer), so read-then-write
transactions behave alike on both backends; processes sharing a database coordinate above.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.store.db import (
    Backend,
    ForeignDatabaseError,
    Params,
    StoreError,
    load_migrations,
    pending_migrations,
)

# A connection, pooled or not.
PgRaw = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger(__name__)

# The one row saying this database is digestbot's, and its schema version.
SCHEMA_TABLE = "digestbot_schema"
# The schema version that gave feeds their lease columns (0002_feed_leases).
_LEASES_VERSION = 2
# Taken while migrating, so two processes starting at once migrate once.
_MIGRATION_LOCK = 0x64676274

_TOKEN = re.compile(
    r"'(?:[^']|'')*'"  # a string literal: left alone
    r"|\?"  # a positional parameter
    r"|(?<![:\w]):([A-Za-z_]\w*)"  # a named parameter (not a :: cast)
    r"|\b(NOT )?IN \(\)"  # an empty list: SQLite allows it, PostgreSQL does not
    r"|(?<![\w)])\+(?=[A-Za-z_]\w*\.)"  # SQLite's planner hint (+d.col: no index)
)


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@functools.lru_cache(maxsize=1024)
def _translate(sql: str, named: bool) -> tuple[str, tuple[str, ...]]:
    """SQLite-style parameters → `$n`; with `named`, the names in `$n` order. Also the two
    spellings PostgreSQL refuses: an empty `IN ()` list, SQLite's `+column` planner hint."""
    names: list[str] = []
    counter = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal counter
        token = match.group(0)
        if token.startswith("'"):
            return token
        if token.endswith("()"):  # x IN () is false, x NOT IN () true, as in SQLite
            return "<> ALL ('{}')" if match.group(2) else "= ANY ('{}')"
        if token == "+":
            return ""
        if token == "?":
            counter += 1
            return f"${counter}"
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    text = _TOKEN.sub(replace, sql)
    if named and counter:
        raise ValueError("mixed ? and :name parameters")
    return text, tuple(names)


def translate(sql: str, params: Params) -> tuple[str, list[Any]]:
    """The statement for asyncpg and its positional arguments."""
    if isinstance(params, Mapping):
        text, names = _translate(sql, True)
        return text, [params[name] for name in names]
    return _translate(sql, False)[0], list(params)


# How a SQLite-style value becomes what PostgreSQL's declared parameter type wants.
_COERCE: dict[str, Any] = {
    **dict.fromkeys(("int2", "int4", "int8"), int),
    **dict.fromkeys(("float4", "float8", "numeric"), float),
    "bool": bool,
    **dict.fromkeys(("text", "varchar", "bpchar", "tsvector", "tsquery"), str),
}


def _coerce(value: Any, type_name: str) -> Any:
    make = _COERCE.get(type_name)
    return value if value is None or make is None else make(value)


def _rowcount(status: str) -> int:
    """Rows changed, from a command tag ("UPDATE 3", "INSERT 0 5", "DELETE 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


def _returns_rows(sql: str) -> bool:
    upper = sql.lstrip().upper()
    return upper.startswith(("SELECT", "VALUES")) or " RETURNING " in upper


@dataclass(frozen=True, slots=True)
class PgCursor:
    """What a statement gave: its rows (all fetched) and how many rows it changed."""

    rows: Sequence[asyncpg.Record]
    rowcount: int


async def _run(conn: PgRaw, sql: str, params: Params) -> PgCursor:
    text, args = translate(sql, params)
    try:
        return await _run_translated(conn, text, args)
    except asyncpg.DataError as exc:
        # Argument encoding failed on the client (nothing was sent): convert the values to
        # the parameter types PostgreSQL declared, once, and run again.
        if not str(exc).startswith("invalid input for query argument"):
            raise
        statement = await conn.prepare(text)
        types = [t.name for t in statement.get_parameters()]
        return await _run_translated(
            conn, text, [_coerce(v, t) for v, t in zip(args, types, strict=True)]
        )


async def _run_translated(conn: PgRaw, text: str, args: list[Any]) -> PgCursor:
    if _returns_rows(text):
        rows = await conn.fetch(text, *args)
        return PgCursor(rows, len(rows))
    status = await conn.execute(text, *args)
    return PgCursor([], _rowcount(status))


class PgConnection:
    """One connection inside a transaction, used like the store's aiosqlite connection."""

    def __init__(self, conn: PgRaw) -> None:
        self.raw = conn

    async def execute(self, sql: str, parameters: Params = ()) -> PgCursor:
        return await _run(self.raw, sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> Sequence[asyncpg.Record]:
        return (await self.execute(sql, parameters)).rows

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> None:
        for params in parameters:
            await self.execute(sql, params)


class PgReader(PgConnection):
    """The reader: each statement on a pooled connection of its own (autocommit)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def execute(self, sql: str, parameters: Params = ()) -> PgCursor:
        async with self.pool.acquire() as conn:
            return await _run(conn, sql, parameters)


async def schema_version(conn: PgRaw) -> int | None:
    """The schema version of a digestbot database; None: not digestbot's (or empty)."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", SCHEMA_TABLE)
    if not exists:
        return None
    return int(await conn.fetchval(f"SELECT version FROM {SCHEMA_TABLE}"))


async def _migrate(conn: PgRaw, shown: str) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        version = await schema_version(conn)
        if version is None:
            tables = await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
            )
            if tables:
                raise ForeignDatabaseError(
                    f"the PostgreSQL database {shown} holds tables of another application; "
                    "digestbot will not write into it. Point DIGESTBOT_DB at an empty database."
                )
            await conn.execute(f"CREATE TABLE {SCHEMA_TABLE} (version BIGINT NOT NULL)")
            await conn.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (0)")
            version = 0
        where = f"the PostgreSQL database {shown}"
        for number, name, sql in pending_migrations(version, where, "migrations_pg"):
            log.info("applying PostgreSQL migration %04d_%s", number, name)
            await conn.execute(sql)
            await conn.execute(f"UPDATE {SCHEMA_TABLE} SET version = $1", number)


class PgDatabase(Backend):
    """A pool of connections to one PostgreSQL database."""

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.path = redacted(url)
        self.pool = pool
        self.reader = PgReader(pool)

    @classmethod
    async def open(cls, url: str) -> PgDatabase:
        """Connect (a small pool) and migrate. An unreachable server, a refused login, a
        foreign or newer database raise StoreError with the operator's line."""
        shown = redacted(url)
        try:
            # Standard strings whatever the server says: pgsearch.tsquery_sql escapes only
            # quotes. Up to 8 connections: a cluster job's advisory lock holds one.
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=8,
                server_settings={"standard_conforming_strings": "on"},
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"cannot connect to the PostgreSQL database {shown} ({exc}): check that the "
                "server runs and that DIGESTBOT_DB names it, its user and password"
            ) from exc
        try:
            async with pool.acquire() as conn:
                await _migrate(conn, shown)
        except BaseException:
            await pool.close()
            raise
        return cls(url, pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """A write transaction, serialized with every other write of this process."""
        async with self._write_lock, self.pool.acquire() as conn, conn.transaction():
            yield PgConnection(conn)

    async def _close(self) -> None:
        await self.pool.close()


@dataclass(frozen=True, slots=True)
class PgReport:
    """What a PostgreSQL database is, read without changing it (for `digestbot doctor`)."""

    shown: str  # the URL without its password
    version: int | None = None  # None: no digestbot schema (empty or another application's)
    code_version: int = 0
    tables: int = 0
    channels: tuple[tuple[int, int], ...] = ()  # (guild, channel) of every subscription
    error: str | None = None  # the server could not be reached or read
    leases: tuple[FeedLeases, ...] = ()  # per process holding feed leases


@dataclass(frozen=True, slots=True)
class FeedLeases:
    """The feed leases one process holds: live, and expired (it stopped mid-poll)."""

    holder: str
    held: int
    expired: int


async def pg_report(url: str, now: float | None = None) -> PgReport:
    """Read the schema version, subscribed channels and feed leases (expired at `now`);
    never migrate."""
    shown, latest = redacted(url), len(load_migrations("migrations_pg"))
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return PgReport(shown, code_version=latest, error=str(exc) or type(exc).__name__)
    try:
        version = await schema_version(conn)
        tables = int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
            )
        )
        channels: tuple[tuple[int, int], ...] = ()
        if version:
            rows = await conn.fetch(
                "SELECT DISTINCT guild_id, channel_id FROM subscriptions "
                "ORDER BY guild_id, channel_id"
            )
            channels = tuple((int(r[0]), int(r[1])) for r in rows)
        leases: tuple[FeedLeases, ...] = ()
        if version and version >= _LEASES_VERSION:
            rows = await conn.fetch(
                "SELECT lease_holder, count(*) FILTER (WHERE lease_until >= $1), "
                "count(*) FILTER (WHERE lease_until < $1) FROM feeds "
                "WHERE lease_holder IS NOT NULL GROUP BY lease_holder ORDER BY lease_holder",
                time.time() if now is None else now,
            )
            leases = tuple(FeedLeases(str(r[0]), int(r[1]), int(r[2])) for r in rows)
        return PgReport(shown, version, latest, tables, channels, leases=leases)
    except asyncpg.PostgresError as exc:
        return PgReport(shown, code_version=latest, error=str(exc))
    finally:
        await conn.close()


def json_ids(conn: object) -> str:
    """A subquery of the ids in one parameter, a JSON array (no limit on how many, unlike
    bound values): SQLite's json_each, or PostgreSQL's json_array_elements_text."""
    if is_postgres(conn):
        return "SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json))"
    return "SELECT value FROM json_each(?)"


def is_postgres(conn: object) -> bool:
    """Whether a connection (a transaction's or the reader) or database is PostgreSQL's."""
    return isinstance(conn, PgConnection | PgDatabase)
