"""The same-story index (issue 16): a new item is compared, sketch against sketch, only with
the channel's recent posts that share an LSH band with it (bot.ingest.story.bands) or its
link key. Two stories of one topic that share stock phrases are not even candidates; a
syndicated copy (another site, retitled, a line of boilerplate, words changed) still is."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.ingest.story import STORY_MATCHER
from bot.model import EnrichedItem, Entry, ItemText, StoryKey
from bot.store import Store
from bot.store.items import FreshItem
from bot.store.polls import PollSuccess, commit_poll
from tests.deliveryfakes import FakeTime
from tests.integration.test_outbox import subscribed_feed

CH = 900_000_000_000_000_001
# What every story of this topic says (the hard case for single MinHash values: most posts of
# the topic share these shingles verbatim).
STOCK = (
    "Analysts expect export licences to shape data-centre parts for years. "
    "The decision affects export licences and data-centre parts across the region."
)
LICENCES = (
    "Commerce Department requires licences for AI chips sold to forty countries",
    "The Commerce Department will require export licences for accelerators shipped to forty "
    "countries, closing the loophole resellers used. " + STOCK,
)
FINE = (
    "Commerce Department fines a Singapore reseller over smuggled AI chips",
    "A reseller in Singapore was fined thirty million dollars for smuggling boards to "
    "sanctioned buyers. " + STOCK,
)
LICENCES_SYNDICATED = (
    "Opinion: Commerce Department requires licences for AI chips sold to forty countries",
    "This piece first appeared in The Ledger. The Commerce Department will demand export "
    "licences for accelerators shipped to forty countries, closing the loophole resellers "
    "used. " + STOCK.replace("for years", "for a decade"),
)


class CountingMatcher:
    """The bot's story gate, recording which candidates the index handed it to compare."""

    def __init__(self) -> None:
        self.compared: list[tuple[StoryKey, StoryKey]] = []

    def key(self, item: ItemText) -> StoryKey:
        return STORY_MATCHER.key(item)

    def same(self, new: StoryKey, earlier: StoryKey) -> bool:
        self.compared.append((new, earlier))
        return STORY_MATCHER.same(new, earlier)


def _item(stable_id: str, url: str, story: tuple[str, str]) -> FreshItem:
    title, text = story
    entry = Entry(
        stable_id=stable_id,
        title=title,
        url=url,
        author=None,
        published=None,
        content_html=f"<p>{text}</p>",
        description_html="",
    )
    digest = hashlib.sha256(f"{title}|{stable_id}".encode()).hexdigest()
    return FreshItem(EnrichedItem(entry, text, text, None, digest), digest)


async def _route_two(
    tmp_path: Path, first: FreshItem, second: FreshItem, gate: CountingMatcher
) -> list[str]:
    """Post `first` from one feed, then `second` from another, in one channel: the kinds of
    the channel's deliveries."""
    store = await Store.open(tmp_path / "bot.db")
    try:
        time = FakeTime()
        success = PollSuccess(time.now, time.now + 60, None, None, None, None)
        for n, item in enumerate((first, second)):
            feed_id = await subscribed_feed(store, f"https://f{n}.example/feed", CH)
            await commit_poll(store.db, feed_id, [item], success, story_gate=gate)
        return [d.kind for d in await store.deliveries.for_target("channel", CH)]
    finally:
        await store.close()


async def test_two_stories_sharing_stock_phrases_are_not_candidates(tmp_path: Path) -> None:
    """Two events of one topic whose texts share two stock sentences (a third of their
    shingles; six of the old index's sixteen single marks): both are posted, and the second
    was never compared with the first (no band in common), so a topic's stock phrases cost
    the gate nothing."""
    gate = CountingMatcher()
    first = _item("a-1", "https://alpha.example/2024/licences", LICENCES)
    second = _item("b-1", "https://beta.example/2024/fine", FINE)
    assert await _route_two(tmp_path, first, second, gate) == ["item", "item"]
    assert gate.compared == []


async def test_a_syndicated_copy_is_found_through_the_bands(tmp_path: Path) -> None:
    """Another site's copy (other link, retitled, a line of boilerplate, words changed) is a
    candidate through a shared band and judged the same story: the second feed's item edits
    the first post instead of being posted."""
    gate = CountingMatcher()
    first = _item("a-1", "https://alpha.example/2024/licences", LICENCES)
    copy = _item("b-1", "https://syndicate.example.org/77/copy", LICENCES_SYNDICATED)
    assert await _route_two(tmp_path, first, copy, gate) == ["item", "edit"]
    ((new, earlier),) = gate.compared
    assert new.url != earlier.url  # found by its text, not by its link
