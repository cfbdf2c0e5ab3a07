"""One story, one digest entry: items of a digest that tell the same story (bot.ingest.story)
from several feeds become the earliest one's entry, listing the others' feeds."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.ingest.story import marks_needed, same_story, story_key
from bot.model import ItemText, ItemView, StoryKey


def merge_stories(
    items: Sequence[ItemView], unmerged: Collection[int] = ()
) -> tuple[list[ItemView], dict[int, list[ItemView]]]:
    """The items to list (each story's earliest item, in the order given) and, by listed
    item id, the later items of other feeds that tell its story. Items of the `unmerged`
    feeds are listed on their own. Candidates come from the stories' marks and links, so the
    cost grows with the items, not their square."""
    keys: dict[int, StoryKey] = {
        item.item_id: story_key(
            ItemText(item.item_id, item.url, item.title, item.summary, "", item.canonical_url)
        )
        for item in items
    }
    by_mark: dict[int, list[ItemView]] = {}
    by_url: dict[str, ItemView] = {}
    also: dict[int, list[ItemView]] = {}
    merged: set[int] = set()
    # Earliest first, so each story is listed under its first item.
    for item in sorted(items, key=_arrival):
        if item.feed_id in unmerged:
            continue
        key = keys[item.item_id]
        shared: dict[int, int] = {}
        earlier: dict[int, ItemView] = {}
        for mark in key.marks:
            for other in by_mark.get(mark, ()):
                shared[other.item_id] = shared.get(other.item_id, 0) + 1
                earlier[other.item_id] = other
        need = marks_needed(key)
        candidates = [by_url[key.url]] if key.url in by_url else []
        candidates += sorted(
            (e for e in earlier.values() if shared[e.item_id] >= need), key=_arrival
        )
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
        for mark in key.marks:
            by_mark.setdefault(mark, []).append(item)
        if key.url is not None:
            by_url.setdefault(key.url, item)
    return [item for item in items if item.item_id not in merged], also


def _arrival(item: ItemView) -> tuple[float, int]:
    return (item.published.timestamp(), item.item_id)
