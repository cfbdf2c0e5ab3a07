"""One story, one digest entry: items of a digest that tell the same story (bot.ingest.story)
from several feeds become the earliest one's entry, listing the others' feeds."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.ingest.story import same_story, story_key
from bot.model import ItemText, ItemView, StoryKey


def merge_stories(
    items: Sequence[ItemView], unmerged: Collection[int] = ()
) -> tuple[list[ItemView], dict[int, list[ItemView]]]:
    """The items to list (each story's earliest item, in the order given) and, by listed
    item id, the later items of other feeds that tell its story. Items of the `unmerged`
    feeds are listed on their own. Candidates come from the stories' LSH bands and links, so
    the cost grows with the items, not their square."""
    keys: dict[int, StoryKey] = {
        item.item_id: story_key(
            ItemText(item.item_id, item.url, item.title, item.summary, "", item.canonical_url)
        )
        for item in items
    }
    by_band: dict[int, list[ItemView]] = {}
    by_url: dict[str, ItemView] = {}
    also: dict[int, list[ItemView]] = {}
    merged: set[int] = set()
    # Earliest first, so each story is listed under its first item.
    for item in sorted(items, key=_arrival):
        if item.feed_id in unmerged:
            continue
        key = keys[item.item_id]
        earlier = {other.item_id: other for band in key.bands for other in by_band.get(band, ())}
        candidates = [by_url[key.url]] if key.url in by_url else []
        candidates += sorted(earlier.values(), key=_arrival)
        first = next(
            (
                e
                for e in candidates
                if e.feed_id != item.feed_id and same_story(key, keys[e.item_id])
            ),
            None,
        )
        if first is not None:
            merged.add(item.item_id)
            also.setdefault(first.item_id, []).append(item)
            continue
        for band in key.bands:
            by_band.setdefault(band, []).append(item)
        if key.url is not None:
            by_url.setdefault(key.url, item)
    return [item for item in items if item.item_id not in merged], also


def _arrival(item: ItemView) -> tuple[float, int]:
    return (item.published.timestamp(), item.item_id)
