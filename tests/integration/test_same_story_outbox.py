"""The outbox's side of "one story, posted once" (issue 16) where the fake Discord cannot
easily go: an item merged into a post that then could not be sent is posted on its own."""

from __future__ import annotations

from bot.delivery.senders import PermanentSendError
from bot.ingest.parse import parse_feed, plain
from bot.ingest.story import STORY_MATCHER, story_key
from bot.model import DeliveryRow, EnrichedItem, ItemText, Message, PostFormat
from bot.store import Store
from bot.store.items import FreshItem
from bot.store.polls import PollSuccess, commit_poll
from tests.deliveryfakes import FakeTime, RecordingSender, fresh_item
from tests.integration.test_outbox import outbox, subscribed_feed

CH = 900_000_000_000_000_001
STORY = (
    "Commerce tightens AI chip export rules for forty countries, closing the loophole that "
    "let resellers ship data-centre parts without a licence"
)


async def test_an_item_merged_into_a_post_that_failed_is_posted_itself(store_target: str) -> None:
    store = await Store.open(store_target)
    try:
        time = FakeTime()
        first = await subscribed_feed(store, "https://a.example/feed", CH)
        second = await subscribed_feed(store, "https://b.example/feed", CH)
        for feed_id, sid in ((first, "a-1"), (second, "b-1")):
            success = PollSuccess(time.now, time.now + 60, None, None, None, None)
            fresh = [fresh_item(sid, title=STORY)]
            await commit_poll(store.db, feed_id, fresh, success, story_gate=STORY_MATCHER)
        kinds = [d.kind for d in await store.deliveries.for_target("channel", CH)]
        assert kinds == ["item", "edit"]  # the second is merged into the first's post

        def refuse_the_post(delivery: DeliveryRow) -> Exception | None:
            if delivery.kind == "item":
                return PermanentSendError("400: refused", target_unreachable=False)
            return None

        sender = RecordingSender(fail=refuse_the_post)
        await outbox(store, sender, time).drain()
        states = [d.state for d in await store.deliveries.for_target("channel", CH)]
        assert states == ["failed", "sent"]
        (call,) = sender.calls  # no post to edit: the second feed's item was posted
        assert call.item_id is not None and call.title == STORY
        row = await store.items.get(call.item_id)
        assert row is not None and row.stable_id == "b-1"
    finally:
        await store.close()


async def test_an_edit_discord_refuses_posts_the_item_itself(store_target: str) -> None:
    """The earlier post cannot be edited (deleted by a moderator, or not ours to edit): the
    item is posted on its own rather than lost."""
    store = await Store.open(store_target)
    try:
        time = FakeTime()
        first = await subscribed_feed(store, "https://a.example/feed", CH)
        second = await subscribed_feed(store, "https://b.example/feed", CH)
        success = PollSuccess(time.now, time.now + 60, None, None, None, None)
        await commit_poll(
            store.db, first, [fresh_item("a-1", title=STORY)], success, story_gate=STORY_MATCHER
        )
        sender = RefusingEdits()
        await outbox(store, sender, time).drain()  # the first feed's post goes out
        await commit_poll(
            store.db, second, [fresh_item("b-1", title=STORY)], success, story_gate=STORY_MATCHER
        )
        await outbox(store, sender, time).drain()
        assert sender.edits == 1  # the edit was tried once, refused
        states = [(d.kind, d.state) for d in await store.deliveries.for_target("channel", CH)]
        assert states == [("item", "sent"), ("edit", "sent")]
        first_post, own_post = sender.calls
        assert first_post.title == own_post.title == STORY and own_post.kind == "edit"
        row = await store.items.get(own_post.item_id or 0)
        assert row is not None and row.stable_id == "b-1"
    finally:
        await store.close()


async def test_a_story_posted_in_another_format_is_not_turned_into_a_card(
    store_target: str,
) -> None:
    """An "Also in" edit rewrites the earlier post as a card; a post in the compact or text
    style (`/feed format`) is left as it is, and the new item is posted on its own."""
    store = await Store.open(store_target)
    try:
        time = FakeTime()
        first = await subscribed_feed(store, "https://a.example/feed", CH)
        second = await subscribed_feed(store, "https://b.example/feed", CH)
        (sub,) = [s for s in await store.subscriptions.for_channel(CH) if s.feed_id == first]
        await store.subscriptions.set_format(sub.id, PostFormat(style="compact"), time.now)
        success = PollSuccess(time.now, time.now + 60, None, None, None, None)
        await commit_poll(
            store.db, first, [fresh_item("a-1", title=STORY)], success, story_gate=STORY_MATCHER
        )
        sender = RefusingEdits()
        await outbox(store, sender, time).drain()
        await commit_poll(
            store.db, second, [fresh_item("b-1", title=STORY)], success, story_gate=STORY_MATCHER
        )
        await outbox(store, sender, time).drain()
        assert sender.edits == 0  # never tried: the compact post is not rewritten as a card
        assert len(sender.calls) == 2
    finally:
        await store.close()


class RefusingEdits(RecordingSender):
    """Discord refuses every edit (50005: a message authored by another user)."""

    edits: int = 0

    async def edit(self, delivery: DeliveryRow, message_id: int, message: Message) -> None:
        self.edits += 1
        raise PermanentSendError(
            "Cannot edit a message authored by another user", target_unreachable=False
        )


def _canonical_feed(site: str, title: str, link: str, text: str) -> bytes:
    return f"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{site}</title>
<entry><id>tag:{site},2024:1</id><title>{title}</title><link href="{link}"/>
<link rel="canonical" href="https://www.origin.example/2024/chip-rules/?utm_source={site}"/>
<summary>{text}</summary></entry></feed>""".encode()


async def test_two_feeds_naming_one_canonical_url_are_one_story(store_target: str) -> None:
    """Two feeds carry one story under their own links with texts too different to match,
    and both entries name the same rel=canonical (one with tracking parameters and www.): the
    second feed's item is merged into the first's post; its own id and link are kept."""
    store = await Store.open(store_target)
    try:
        time = FakeTime()
        docs = {
            "alpha": _canonical_feed(
                "alpha",
                "Commerce tightens AI chip export rules",
                "https://alpha.example/p/chip-export-rules",
                "Forty countries are covered by the new licence requirement for accelerators.",
            ),
            "beta": _canonical_feed(
                "beta",
                "Why resellers lost their favourite loophole this week",
                "https://beta.example/2024/01/resellers",
                "A short note for subscribers: our partner's piece, republished with thanks.",
            ),
        }
        success = PollSuccess(time.now, time.now + 60, None, None, None, None)
        keys = []
        for site, doc in docs.items():
            feed_id = await subscribed_feed(store, f"https://{site}.example/feed", CH)
            (entry,) = parse_feed(doc, {}, f"https://{site}.example/feed").entries
            text = plain(entry.description_html)
            enriched = EnrichedItem(entry, text, text, None, f"hash-{site}")
            await commit_poll(
                store.db,
                feed_id,
                [FreshItem(enriched, f"raw-{site}")],
                success,
                story_gate=STORY_MATCHER,
            )
            keys.append(story_key(ItemText(0, entry.url, entry.title, text, text)))
        assert not STORY_MATCHER.same(*keys)  # by link and text alone: two stories
        deliveries = await store.deliveries.for_target("channel", CH)
        assert [d.kind for d in deliveries] == ["item", "edit"]
        row = await store.items.get(deliveries[1].item_id or 0)
        assert row is not None and row.stable_id == "tag:beta,2024:1"
        assert row.url == "https://beta.example/2024/01/resellers"
    finally:
        await store.close()
