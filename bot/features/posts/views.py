"""Build the render-side ItemView from what the store or the pipeline holds."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.model import EnrichedItem, ItemRow, ItemView


def item_view(row: ItemRow) -> ItemView:
    return ItemView(
        item_id=row.id,
        feed_id=row.feed_id,
        feed_title=row.feed_title or row.feed_url,
        feed_url=row.feed_url,
        site_url=row.site_url,
        title=row.title,
        url=row.url,
        author=row.author,
        published=datetime.fromtimestamp(row.published_at, tz=UTC),
        summary=row.summary,
        image_url=row.image_url,
        enclosure_url=row.enclosure_url,
        enclosure_type=row.enclosure_type,
        duration_s=row.duration_s,
        canonical_url=row.canonical_url,
    )


def preview_view(item: EnrichedItem, *, feed_title: str, feed_url: str, index: int) -> ItemView:
    """An item that is not stored (digestbot preview)."""
    entry = item.entry
    enclosure = entry.enclosure
    return ItemView(
        item_id=index,
        feed_id=0,
        feed_title=feed_title,
        feed_url=feed_url,
        site_url=None,
        title=entry.title,
        url=entry.url,
        author=entry.author,
        published=entry.published or datetime.now(tz=UTC),
        summary=item.summary,
        image_url=item.image_url,
        enclosure_url=enclosure.url if enclosure else None,
        enclosure_type=enclosure.type if enclosure else None,
        duration_s=entry.duration_s,
        canonical_url=entry.canonical_url,
    )
