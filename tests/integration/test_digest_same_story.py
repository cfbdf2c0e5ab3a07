"""A digest lists one story once (issue 16): items of several feeds that tell the same story
are one entry, the earliest, naming the other feeds under "Also in"; another story on the
same topic keeps its own entry."""

from __future__ import annotations

from bot.features.digest.service import DigestService
from bot.store import Store
from bot.store.polls import PollSuccess, commit_poll
from tests.deliveryfakes import add_polled_feed, fresh_item
from tests.integration.test_digest_service import ADMIN, CH, GUILD, Clock, digests_of, ts

STORY = (
    "Commerce tightens AI chip export rules for forty countries, closing the loophole that "
    "let resellers ship data-centre parts without a licence"
)
OTHER = (
    "Chipmakers ask Commerce to delay the licence deadline for AI accelerator exports by six "
    "months, citing audits of resellers abroad"
)


async def test_a_story_from_two_feeds_is_one_digest_entry_naming_both(store_target: str) -> None:
    store = await Store.open(store_target)
    try:
        clock = Clock(ts("2024-05-01T08:00:00"))
        service = DigestService(store, clock=clock)
        feeds = []
        for url in ("https://a.example/feed", "https://b.example/feed"):
            feed_id = await add_polled_feed(store, url, now=clock.now - 100)
            await store.subscriptions.add(
                GUILD, CH, feed_id, mode="digest", added_by=ADMIN, now=clock.now
            )
            feeds.append(feed_id)
        await service.schedule(
            guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
        )
        clock.now = ts("2024-05-01T08:30:00")
        polls = {
            feeds[0]: [fresh_item("a-1", title=STORY, published=clock.now - 600)],
            feeds[1]: [
                fresh_item("b-2", title=OTHER, published=clock.now - 60),
                fresh_item("b-1", title=STORY, published=clock.now - 300),
            ],
        }
        for feed_id, fresh in polls.items():
            success = PollSuccess(clock.now, clock.now + 60, None, None, None, None)
            await commit_poll(store.db, feed_id, fresh, success)

        clock.now = ts("2024-05-01T09:00:00")
        (due,) = await service.run_due()
        assert due.item_count == 3
        (digest,) = await digests_of(store)
        messages = await service.delivery_messages(digest)
        text = "\n".join(e.description or "" for m in messages for e in m.embeds)
        assert text.count(f"[{STORY}]") == 1  # one entry for the story, under feed A
        assert text.count(f"[{OTHER}]") == 1
        assert "Also in: [https://b.example/feed](https://example.com/b-1)" in text, text
        assert "(https://example.com/a-1)" in text
    finally:
        await store.close()


async def test_a_feed_with_merging_off_keeps_its_own_digest_entry(store_target: str) -> None:
    """`/feed merge on:false` holds in digests too: the feed's copy of a story is listed."""
    store = await Store.open(store_target)
    try:
        clock = Clock(ts("2024-05-01T08:00:00"))
        service = DigestService(store, clock=clock)
        feeds = []
        for url in ("https://a.example/feed", "https://b.example/feed"):
            feed_id = await add_polled_feed(store, url, now=clock.now - 100)
            await store.subscriptions.add(
                GUILD, CH, feed_id, mode="digest", added_by=ADMIN, now=clock.now
            )
            feeds.append(feed_id)
        (second,) = [s for s in await store.subscriptions.for_channel(CH) if s.feed_id == feeds[1]]
        await store.subscriptions.set_merge_stories(second.id, False, clock.now)
        await service.schedule(
            guild_id=GUILD, channel_id=CH, cadence="daily", local_time="09:00", timezone="UTC"
        )
        clock.now = ts("2024-05-01T08:30:00")
        for feed_id, sid, age in ((feeds[0], "a-1", 600), (feeds[1], "b-1", 300)):
            success = PollSuccess(clock.now, clock.now + 60, None, None, None, None)
            fresh = [fresh_item(sid, title=STORY, published=clock.now - age)]
            await commit_poll(store.db, feed_id, fresh, success)

        clock.now = ts("2024-05-01T09:00:00")
        (due,) = await service.run_due()
        assert due.item_count == 2
        (digest,) = await digests_of(store)
        messages = await service.delivery_messages(digest)
        text = "\n".join(e.description or "" for m in messages for e in m.embeds)
        assert text.count(f"[{STORY}]") == 2 and "Also in" not in text, text
    finally:
        await store.close()
