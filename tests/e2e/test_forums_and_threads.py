"""Forum channels and threads through the real bot and the fake Discord: a forum gets a post
per item (with the tag the admin picked), a thread gets the posts, `/feed threads` opens a
thread per post, and a digest goes to a forum (one post) and to a thread."""

from __future__ import annotations

import time as wall
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord

from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.e2e.test_delivery_e2e import add_feed
from tests.e2e.test_digest_commands import ShiftedClock
from tests.e2e.test_feed_mention_and_test_post import admin_command, letter
from tests.fakediscord import FakeDiscord, Overwrite, StandardGuild, permissions
from tests.fakediscord.state import FakeChannel, StoredMessage
from tests.feedserver import FeedServer

FEED_PATH = "/letter.xml"
CHANNEL_MESSAGES = r"/channels/{}/messages$"


def posts_in_forum(fake: FakeDiscord, forum_id: int) -> list[FakeChannel]:
    """The forum's posts (threads), oldest first."""
    return sorted(
        (c for c in fake.state.channels.values() if c.is_thread and c.parent_id == forum_id),
        key=lambda c: c.id,
    )


def first_message(fake: FakeDiscord, thread: FakeChannel) -> StoredMessage:
    (first, *_) = fake.bot_posts(thread.id)
    return first


def allow_in(fake: FakeDiscord, world: StandardGuild, channel_id: int, bits: int) -> None:
    """Grant the bot's role `bits` in a channel (CHANNEL_UPDATE reaches the bot)."""
    fake.set_overwrite(channel_id, Overwrite.role(world.bot_role_id, allow=bits))


async def test_a_forum_gets_one_post_per_item_with_the_tag_picked_by_autocomplete(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    forum = fake.state.add_forum_channel(world.guild_id, "letters", tags=["News", "Essays"])
    essays = forum.available_tags[1]["id"]
    url = feed_server.url(FEED_PATH)
    feed_server.set(FEED_PATH, letter(["First", "Second " + "long " * 30]))
    async with running_bot(tmp_path, fake):
        handle = await fake.invoke_autocomplete(
            "feed add",
            "tag",
            {"url": url, "channel": forum.id, "tag": "ess"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        assert await handle.choices() == [{"name": "Essays", "value": essays}]

        refused = await add_feed(fake, world, url, forum.id, tag="Poetry")
        assert "not a tag of" in refused and "**News**, **Essays**" in refused
        assert posts_in_forum(fake, forum.id) == []

        answer = await add_feed(fake, world, url, forum.id, backfill=2, tag=essays)
        assert "Following" in answer and "carry the tag **Essays**" in answer
        await fake.wait_until(lambda: len(posts_in_forum(fake, forum.id)) == 2, timeout=15)

        feed_server.set(FEED_PATH, letter(["First", "Second " + "long " * 30, "Third"]))
        await fake.wait_until(lambda: len(posts_in_forum(fake, forum.id)) == 3, timeout=15)

    posts = posts_in_forum(fake, forum.id)
    assert [p.name for p in posts] == ["First", ("Second " + "long " * 19)[:99] + "…", "Third"]
    assert all(len(p.name) <= 100 for p in posts)
    assert [p.applied_tags for p in posts] == [[int(essays)]] * 3
    for post in posts:
        first = first_message(fake, post)
        assert first.id == post.id  # the post's first message is the item's card
        assert first.embeds[0]["title"] == post.name or post.name.endswith("…")
        assert first.allowed_mentions == {"parse": []}
        assert len(fake.bot_posts(post.id)) == 1
    assert fake.count("POST", CHANNEL_MESSAGES.format(forum.id)) == 0


async def test_a_thread_gets_the_posts_once_the_bot_may_send_in_threads(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    thread = fake.state.add_thread(world.news_id, "Letters", owner_id=world.admin_id)
    url = feed_server.url(FEED_PATH)
    feed_server.set(FEED_PATH, letter(["One"]))
    async with running_bot(tmp_path, fake) as bot:
        refused = await add_feed(fake, world, url, thread.id)
        assert "missing **Send Messages in Threads" in refused

        allow_in(fake, world, world.news_id, permissions.SEND_MESSAGES_IN_THREADS)

        def may_send_in_threads() -> bool:
            cached = bot.get_channel(thread.id)
            assert isinstance(cached, discord.Thread)
            return cached.permissions_for(cached.guild.me).send_messages_in_threads

        await fake.wait_until(may_send_in_threads, timeout=10)
        answer = await add_feed(fake, world, url, thread.id)
        assert "Following" in answer
        await fake.wait_for_messages(thread.id, 1, timeout=15)
        feed_server.set(FEED_PATH, letter(["One", "Two"]))
        await fake.wait_for_messages(thread.id, 2, timeout=15)

    assert [m.embeds[0]["title"] for m in fake.bot_posts(thread.id)] == ["One", "Two"]
    assert fake.bot_posts(world.news_id) == []


async def test_feed_threads_opens_one_thread_per_post_named_after_the_item(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["Old"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        options = {"feed": str(view.subscription.feed_id), "channel": world.news_id, "on": True}
        refused = await admin_command(fake, world, "feed threads", options)
        assert "missing **Create Public Threads**" in refused.content

        allow_in(fake, world, world.news_id, permissions.CREATE_PUBLIC_THREADS)

        def may_open_threads() -> bool:
            news = bot.get_channel(world.news_id)
            assert isinstance(news, discord.TextChannel)
            return news.permissions_for(news.guild.me).create_public_threads

        await fake.wait_until(may_open_threads, timeout=10)
        answer = await admin_command(fake, world, "feed threads", options)
        assert "will open a thread named after its item" in answer.content

        # Alpha's post goes through but its answer is lost (a 503): the retry finds the post
        # in the channel instead of sending it again, and opens the thread it still lacks.
        lost = fake.faults.fail(
            CHANNEL_MESSAGES.format(world.news_id), 503, method="POST", after_effect=True
        )
        feed_server.set(FEED_PATH, letter(["Old", "Alpha", "Beta"]))
        await fake.wait_until(
            lambda: sum(m.thread_id is not None for m in fake.bot_posts(world.news_id)) == 2,
            timeout=40,
        )
        assert lost.hits == 1

    posts = fake.bot_posts(world.news_id)
    assert [m.embeds[0]["title"] for m in posts] == ["Alpha", "Beta"]
    threads = [fake.state.channels[m.thread_id] for m in posts if m.thread_id is not None]
    assert [(t.id, t.name, t.parent_id) for t in threads] == [
        (posts[0].id, "Alpha", world.news_id),
        (posts[1].id, "Beta", world.news_id),
    ]


async def test_a_digest_goes_to_a_forum_as_one_post_and_into_a_thread(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    forum = fake.state.add_forum_channel(world.guild_id, "digests", tags=["Weekly"])
    allow_in(fake, world, world.news_id, permissions.SEND_MESSAGES_IN_THREADS)
    thread = fake.state.add_thread(world.news_id, "Digest thread", owner_id=world.admin_id)
    feed_server.set(FEED_PATH, letter(["First"]))
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        for target in (forum.id, thread.id):
            answer = await add_feed(fake, world, feed_server.url(FEED_PATH), target, mode="digest")
            assert "digest mode" in answer
        slot = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
        for target in (forum.id, thread.id):
            options = {
                "channel": target,
                "cadence": "daily",
                "time": slot.strftime("%H:%M"),
                "timezone": "UTC",
            }
            answer = await admin_command(fake, world, "digest schedule", options)
            assert "gets a digest daily" in answer.content, answer.content

        feed_server.set(FEED_PATH, letter(["First", "Second", "Third"]))
        clock.offset += 60

        async def polled() -> bool:
            await runtime.poller.poll_due()
            return await runtime.store.items.count() >= 3

        await until(polled, what="the new items archived")
        clock.offset = slot.timestamp() - wall.time() + 30
        due = await runtime.digests.run_due()
        assert len(due) == 2 and all(d.queued for d in due)
        await fake.wait_until(lambda: len(posts_in_forum(fake, forum.id)) == 1, timeout=15)
        await fake.wait_for_messages(thread.id, 1, timeout=15)

    (post,) = posts_in_forum(fake, forum.id)
    assert post.name.startswith("Digest for #digests · ")
    (forum_digest,) = fake.bot_posts(post.id)
    assert forum_digest.id == post.id and "2 new items" in forum_digest.content
    (thread_digest,) = fake.bot_posts(thread.id)
    assert "2 new items" in thread_digest.content
    assert fake.count("POST", CHANNEL_MESSAGES.format(forum.id)) == 0
