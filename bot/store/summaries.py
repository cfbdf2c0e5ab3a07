"""summary_cache: summaries from an optional summarizer (an LLM), by content hash."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.db import Table, marks


class SummaryCache(Table):
    async def get_many(self, content_hashes: Sequence[str]) -> dict[str, str]:
        found = await self._all(
            lambda content_hash, summary: (str(content_hash), str(summary)),
            "SELECT content_hash, summary FROM summary_cache "
            f"WHERE content_hash IN ({marks(content_hashes)})",
            content_hashes,
        )
        return dict(found)

    async def put(self, content_hash: str, summary: str, source: str, now: float) -> None:
        await self._db.write(
            "INSERT INTO summary_cache (content_hash, summary, source, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (content_hash) DO NOTHING",
            (content_hash, summary, source, now),
        )
