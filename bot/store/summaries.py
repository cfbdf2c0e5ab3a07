"""summary_cache: summaries from an optional summarizer (an LLM), by content hash."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.db import Database


class SummaryCache:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_many(self, content_hashes: Sequence[str]) -> dict[str, str]:
        if not content_hashes:
            return {}
        marks = ",".join("?" * len(content_hashes))
        async with self._db.reader.execute(
            f"SELECT content_hash, summary FROM summary_cache WHERE content_hash IN ({marks})",
            tuple(content_hashes),
        ) as cursor:
            return {str(h): str(s) for h, s in await cursor.fetchall()}

    async def put(self, content_hash: str, summary: str, source: str, now: float) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO summary_cache (content_hash, summary, source, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (content_hash) DO NOTHING",
                (content_hash, summary, source, now),
            )
