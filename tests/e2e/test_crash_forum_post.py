"""Exactly once for forum posts: a forum post carries no nonce, so Discord cannot drop a
resend. The real bot (`python -m bot run`) opens a post, Discord stores it, the answer is
held and the bot is SIGKILLed; started again, it must find the post among the forum's active
threads (its first message) and not open a second one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import Store
from tests.children import ChildProcesses
from tests.e2e.test_crash_real_bot import (
    ARCHIVED_PER_FEED,
    FINAL_DRAIN_S,
    READY_TIMEOUT_S,
    BotProcesses,
    GrowingFeeds,
    bot_env,
    nothing_left_to_send,
)
from tests.e2e.test_forums_and_threads import first_message, posts_in_forum
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer

FORUM_POSTS = r"/channels/\d+/threads$"


def post_links(fake: FakeDiscord, forum_id: int) -> list[str]:
    """The item link of each post in the forum (its first message's card), oldest first."""
    return [
        str(first_message(fake, post).embeds[0].get("url"))
        for post in posts_in_forum(fake, forum_id)
    ]


@pytest.mark.timeout(300)
async def test_a_forum_post_in_flight_at_a_sigkill_is_found_not_posted_twice(
    tmp_path: Path, child_processes: ChildProcesses
) -> None:
    async with FakeDiscord.serve() as fake, FeedServer() as server:
        world = fake.state.add_standard_guild()
        forum = fake.state.add_forum_channel(world.guild_id, "letters", tags=["Alpha"])
        tag = forum.available_tags[0]["id"]
        feeds = GrowingFeeds(server)
        for _ in range(ARCHIVED_PER_FEED):
            feeds.add("alpha")
        bots = BotProcesses(fake, bot_env(fake, tmp_path), tmp_path / "bot.log", child_processes)
        bot = await bots.start_ready()
        await fake.wait_for_sync(1, timeout=READY_TIMEOUT_S)
        handle = await fake.invoke_command(
            "feed add",
            {"url": feeds.url("alpha"), "channel": forum.id, "backfill": 0, "tag": tag},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        answer = await handle.final_message(timeout=15)
        assert "carry the tag **Alpha**" in answer.content, answer.content

        held = fake.faults.delay(FORUM_POSTS, 120.0, method="POST", after_effect=True)
        feeds.add("alpha")
        await fake.wait_until(
            lambda: held.hits == 1 and len(posts_in_forum(fake, forum.id)) == 1,
            timeout=READY_TIMEOUT_S,
            what="the forum post stored, its answer held",
        )
        await bots.sigkill(bot)
        fake.faults.remove(held)
        fake.advance_time(fake.nonce_window + 60)
        feeds.add("alpha")
        in_flight_link, later_link = feeds.links_after_subscription("alpha")

        bot = await bots.start_ready()
        db = tmp_path / "bot.db"
        # The outbox goes in queue order per channel: the later item's post means the one in
        # flight was settled first; with nothing left to send, no post can follow.
        await fake.wait_until(
            lambda: later_link in post_links(fake, forum.id) and nothing_left_to_send(db),
            timeout=FINAL_DRAIN_S,
            what="the later item posted and nothing left to send",
        )
        await bots.stop(bot)
        log = bots.log_tail()
        assert post_links(fake, forum.id) == [in_flight_link, later_link], log
        assert fake.count("POST", FORUM_POSTS) == 2, log
        assert [p.applied_tags for p in posts_in_forum(fake, forum.id)] == [[int(tag)]] * 2
        assert "was already posted (message" in log
    store = await Store.open(db)
    try:
        rows = await store.deliveries.for_target("channel", forum.id)
    finally:
        await store.close()
    assert [(row.state, row.last_error) for row in rows] == [("sent", None), ("sent", None)]
