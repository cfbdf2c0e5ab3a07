"""Moving up: copy an SQLite archive into an empty PostgreSQL database (`digestbot migrate-to`).

Every table is copied row for row with its ids (dedupe keys, DM buttons and digests name
ids), in one PostgreSQL transaction: whole or not at all. Deliveries keep their state, so a
post pending before the move is sent once after it (run the bot on one backend only). Items
get their search index as copied; identity counters continue after the highest copied id.
A database already holding digestbot data is refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.store.db import Database, StoreError
from bot.store.pgsearch import document
from bot.store.postgres import PgDatabase

# In an order where every row's references are already copied.
TABLES = (
    "feeds",
    "items",
    "item_tombstones",
    "bot_state",
    "subscriptions",
    "subscription_identities",
    "guild_feeds",
    "topics",
    "members",
    "digest_schedules",
    "summary_cache",
    "channel_webhooks",
    "story_bands",
    "channel_locales",
    "member_locales",
    "deliveries",
)
_IDENTITIES = ("feeds", "items", "subscriptions", "topics", "deliveries")
_BATCH = 2000
# PostgreSQL column type → how an SQLite value becomes it (any other type: str).
_CONVERTERS: dict[str, Any] = {"bigint": int, "double precision": float, "bytea": bytes}


@dataclass(frozen=True, slots=True)
class TransferReport:
    counts: dict[str, int]  # table → rows copied


async def copy_to_postgres(source: Database, target: PgDatabase) -> TransferReport:
    """Copy every table of `source` into `target` (migrated, and empty of digestbot data)."""
    counts: dict[str, int] = {}
    async with target.transaction() as tx:
        conn = tx.raw
        for table in TABLES:
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise StoreError(
                    f"the PostgreSQL database {target.path} already holds digestbot data "
                    f"({table}); migrate-to only fills an empty database. Point it at a new one."
                )
        for table in TABLES:
            types = {
                str(row[0]): str(row[1])
                for row in await conn.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = $1",
                    table,
                )
            }
            info = await source.reader.execute_fetchall(f"PRAGMA table_info({table})")
            columns = [str(row[1]) for row in info if str(row[1]) in types]
            convert = [_CONVERTERS.get(types[column], str) for column in columns]
            counts[table] = 0
            async with source.reader.execute(f"SELECT {', '.join(columns)} FROM {table}") as cursor:
                while rows := await cursor.fetchmany(_BATCH):
                    records = [
                        tuple(
                            None if value is None else make(value)
                            for make, value in zip(convert, row, strict=True)
                        )
                        for row in rows
                    ]
                    await conn.copy_records_to_table(table, records=records, columns=columns)
                    if table == "items":
                        await _index(conn, columns, records)
                    counts[table] += len(records)
        for table in _IDENTITIES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
    return TransferReport(counts)


async def _index(conn: Any, columns: list[str], records: list[tuple[Any, ...]]) -> None:
    """The search index of copied items (a tsvector has no binary COPY format: set after)."""
    at = {column: n for n, column in enumerate(columns)}

    def text(row: tuple[Any, ...], spaced: str, plain: str) -> str:
        return str(row[at[spaced]] or row[at[plain]] or "")

    await conn.executemany(
        "UPDATE items SET search = CAST($1 AS tsvector) WHERE id = $2",
        [
            (
                document(
                    text(row, "fts_title", "title"),
                    text(row, "fts_summary", "summary"),
                    str(row[at["content_text"]]),
                ),
                row[at["id"]],
            )
            for row in records
        ],
    )


async def migrate_to(path: Path, url: str) -> TransferReport:
    """Open both databases (the SQLite file must exist), copy, close both."""
    if not await asyncio.to_thread(path.exists):
        raise StoreError(f"there is no SQLite database at {path} (DIGESTBOT_DB) to copy")
    source = await Database.open(path)
    try:
        target = await PgDatabase.open(url)
        try:
            return await copy_to_postgres(source, target)
        finally:
            await target.close()
    finally:
        await source.close()
