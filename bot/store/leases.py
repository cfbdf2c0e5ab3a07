"""Several digestbot processes on one PostgreSQL database: who a process is, and the jobs
only one may run at a time (due feeds: bot.store.feeds). On SQLite every "may I?" is yes."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.store.db import Table
from bot.store.postgres import PgDatabase

log = logging.getLogger(__name__)

# The first key of the two-key advisory locks of periodic jobs ("dgbt"); the second is the
# job's name hashed. Two-key locks are apart from the migration's one-key lock.
_JOB_LOCK_SPACE = 0x64676274


def new_process_id() -> str:
    """This process's name in leases and metrics: host:pid:random (a restarted process, or
    one in another container with the same pid, is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class ClusterLocks(Table):
    """Once per cluster: a named job runs in one process at a time."""

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """Whether this process runs the job `name` now (held for the block). PostgreSQL: a
        session advisory lock, freed when the block ends or a dead process's connection closes."""
        if not isinstance(self._db, PgDatabase):
            yield True
            return
        async with self._db.pool.acquire() as conn:  # a session lock lives as long as it
            mine = bool(
                await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))", _JOB_LOCK_SPACE, name
                )
            )
            try:
                yield mine
            finally:
                if mine:
                    await conn.fetchval(
                        "SELECT pg_advisory_unlock($1, hashtext($2))", _JOB_LOCK_SPACE, name
                    )
