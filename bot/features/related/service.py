"""What else the archive knows about an item: the guild's earlier items about the same thing.

Scores come from the store (bm25 over the seed's most distinctive terms, relative to the seed's
own score). `/related` shows the VIEW_RELATED best of the guild's archive (earlier or later)
above VIEW_MIN_SCORE, lower than a post's Related line needs (bot.features.posts.related_line).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.features.posts.related_line import feed_scope, rows_in_order
from bot.features.why.service import WhyService
from bot.model import ItemRow
from bot.store import Store

VIEW_RELATED = 10
VIEW_MIN_SCORE = 0.15
PAGE_SIZE = 5


@dataclass(frozen=True, slots=True)
class RelatedAnswer:
    """The item asked about (None: not in the archive) and its related items, best first."""

    asked: str
    item: ItemRow | None
    related: list[ItemRow]
    page_index: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.related) // PAGE_SIZE))

    @property
    def page(self) -> list[ItemRow]:
        start = self.page_index * PAGE_SIZE
        return self.related[start : start + PAGE_SIZE]

    @property
    def first_number(self) -> int:
        return self.page_index * PAGE_SIZE + 1

    def turned(self, step: int) -> RelatedAnswer:
        """The same answer on another page (clamped to the pages there are)."""
        index = max(0, min(self.pages - 1, self.page_index + step))
        return RelatedAnswer(self.asked, self.item, self.related, index)


class RelatedService:
    def __init__(self, store: Store, why: WhyService) -> None:
        self._store = store
        self._why = why  # resolves "an item" (autocomplete value, URL or words) as /why does

    async def related(self, guild_id: int | None, asked: str) -> RelatedAnswer:
        """The item meant by `asked` in the guild's archive and its VIEW_RELATED closest items."""
        item = await self._why.find(guild_id, asked)
        if item is None:
            return RelatedAnswer(asked, None, [])
        return await self.of_item(guild_id, item, asked)

    async def of_item(self, guild_id: int | None, item: ItemRow, asked: str) -> RelatedAnswer:
        scope = await feed_scope(self._store, guild_id)
        scores = await self._store.related.related(
            item.id, scope, limit=VIEW_RELATED, min_score=VIEW_MIN_SCORE
        )
        rows = await rows_in_order(self._store, [s.item_id for s in scores])
        return RelatedAnswer(asked, item, rows)
