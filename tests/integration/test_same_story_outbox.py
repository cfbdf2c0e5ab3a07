"""The outbox's side of "one story, posted once" (issue 16) where the fake Discord cannot
easily go: an item merged into a post that then could not be sent is posted on its own."""

from __future__ import annotations

from pathlib import Path

from bot.delivery.senders import PermanentSendError
from bot.ingest.story import STORY_MATCHER
from bot.model import DeliveryRow
from bot.store import Store
from bot.store.polls import PollSuccess, commit_poll
from tests.deliveryfakes import FakeTime, RecordingSender, fresh_item
from tests.integration.test_outbox import outbox, subscribed_feed

CH = 900_000_000_000_000_001
STORY = (
    "Commerce tightens AI chip export rules for forty countries, closing the loophole that "
    "let resellers ship data-centre parts without a licence"
)


async def test_an_item_merged_into_a_post_that_failed_is_posted_itself(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.db")
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
