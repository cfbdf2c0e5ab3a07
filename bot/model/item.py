"""An item as the renderers see it: stored, or only previewed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ItemView:
    """What rendering needs to know about one item (stored, or only previewed)."""

    item_id: int
    feed_id: int
    feed_title: str
    feed_url: str
    site_url: str | None
    title: str
    url: str | None
    author: str | None
    published: datetime  # aware, UTC
    summary: str
    image_url: str | None
    enclosure_url: str | None
    enclosure_type: str | None
    duration_s: int | None
