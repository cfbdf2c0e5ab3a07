"""The real DiscordSender where the gateway cannot tell it about the target channel: a worker
logged in over REST only (DIGESTBOT_SHARDS=none), and a process whose shards do not hold the
channel's guild. It learns the channel and its own permissions from Discord, so exactly-once
holds as it does with the gateway's cache: a post that may have gone out is looked for, and
where the bot cannot read the history it is failed, never sent a second time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest_asyncio

from bot.delivery.discord_sender import HISTORY_UNREADABLE, DiscordSender
from bot.store import Store
from tests.deliveryfakes import make_outbox, poll_items
from tests.fakediscord import FakeDiscord, StandardGuild
from tests.integration.test_outbox import time_now, world_feed

NONCE_WINDOW_PASSED_S = 600.0


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@contextlib.asynccontextmanager
async def rest_client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A client that logged in (GET /users/@me) and never opened the gateway."""
    client = discord.Client(
        intents=discord.Intents(guilds=True), allowed_mentions=discord.AllowedMentions.none()
    )
    try:
        await client.login(fake.token)
        yield client
    finally:
        await client.close()
    assert fake.gateway.connections == []


@contextlib.asynccontextmanager
async def shard_client(fake: FakeDiscord, shard: int, count: int) -> AsyncIterator[discord.Client]:
    """A gateway client running one shard of `count`, its guilds loaded."""
    client = discord.AutoShardedClient(
        intents=discord.Intents(guilds=True),
        allowed_mentions=discord.AllowedMentions.none(),
        guild_ready_timeout=0.1,
        shard_ids=[shard],
        shard_count=count,
    )
    task = asyncio.create_task(client.start(fake.token))
    try:
        await fake.wait_until(lambda: client.is_ready() or task.done(), 20, "shard ready")
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def in_flight(store: Store, fake: FakeDiscord, world: StandardGuild, channel: int) -> int:
    """One item queued for `channel` whose send may have gone out before a crash, longer
    ago than Discord keeps nonces: only the channel's history can tell. Its delivery id."""
    feed = await world_feed(store, world, channel)
    await poll_items(store, feed, ["a-1"], now=time_now())
    (row,) = await store.deliveries.for_target("channel", channel)
    await store.deliveries.mark_sending(row.id, time_now())
    fake.advance_time(NONCE_WINDOW_PASSED_S)
    return row.id


async def assert_failed_not_resent(store: Store, fake: FakeDiscord, delivery_id: int) -> None:
    row = await store.deliveries.get(delivery_id)
    assert row is not None and row.state == "failed", row
    assert HISTORY_UNREADABLE in (row.last_error or "")
    assert fake.bot_posts(row.target_id) == []


async def test_a_worker_without_history_fails_a_post_in_flight_instead_of_resending(
    store: Store,
) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        delivery = await in_flight(store, fake, world, world.no_history_id)
        async with rest_client(fake) as client:
            await make_outbox(store, DiscordSender(client, gateway=False)).drain()
        await assert_failed_not_resent(store, fake, delivery)
        # It learned the permission from Discord: the channel, the guild's roles, its member.
        assert fake.count("GET", rf"^/channels/{world.no_history_id}$") >= 1
        assert fake.count("GET", rf"^/guilds/{world.guild_id}/members/{fake.state.bot.id}$")


async def test_a_worker_finds_a_post_made_before_a_crash_and_posts_the_rest_once(
    store: Store,
) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        delivery = await in_flight(store, fake, world, world.news_id)
        seeded = fake.seed_message(
            world.news_id,
            fake.state.bot.id,
            embeds=[{"title": "Post a-1", "url": "https://example.com/a-1"}],
        )
        feed = (await store.subscriptions.for_channel(world.news_id))[0].feed_id
        await poll_items(store, feed, ["a-2", "a-1"], now=time_now())
        async with rest_client(fake) as client:
            await make_outbox(store, DiscordSender(client, gateway=False)).drain()
        posts = fake.bot_posts(world.news_id)
        assert [p.embeds[0]["url"] for p in posts] == [
            "https://example.com/a-1",
            "https://example.com/a-2",
        ]
        row = await store.deliveries.get(delivery)
        assert row is not None and (row.state, row.message_id) == ("sent", seeded.id)


async def test_a_worker_tells_the_system_channel_when_a_channel_refuses_its_posts(
    store: Store,
) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        feed = await world_feed(store, world, world.no_send_id)
        await poll_items(store, feed, ["a-1"], now=time_now())
        async with rest_client(fake) as client:
            await make_outbox(store, DiscordSender(client, gateway=False)).drain()
        (paused,) = await store.subscriptions.for_channel(world.no_send_id)
        assert paused.paused and "Missing Permissions" in (paused.paused_reason or "")
        (notice,) = fake.bot_posts(world.general_id)
        assert f"<#{world.no_send_id}>" in notice.content


async def test_a_shard_that_does_not_hold_the_guild_checks_the_history_permission_over_rest(
    store: Store,
) -> None:
    """The process runs shard 0 of 2; the channel's guild is on shard 1, so the gateway
    never loaded it. Taking an unknown channel for a readable one would read the empty
    history Discord returns without the permission and post a second time."""
    async with FakeDiscord.serve() as fake:
        fake.state.add_standard_guild("Mine", shard=(0, 2))
        world = fake.state.add_standard_guild("Theirs", shard=(1, 2))
        delivery = await in_flight(store, fake, world, world.no_history_id)
        async with shard_client(fake, 0, 2) as client:
            assert client.get_guild(world.guild_id) is None
            await make_outbox(store, DiscordSender(client)).drain()
        await assert_failed_not_resent(store, fake, delivery)


async def test_a_worker_posts_in_a_forum_as_forum_posts(store: Store) -> None:
    """It tells a forum from a text channel over REST: a message posted into a forum would be
    refused, so each item must open a post of its own."""
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        forum = fake.state.add_forum_channel(world.guild_id, "letters")
        feed = await world_feed(store, world, forum.id)
        await poll_items(store, feed, ["a-2", "a-1"], now=time_now())
        async with rest_client(fake) as client:
            await make_outbox(store, DiscordSender(client, gateway=False)).drain()
        posts = sorted(
            (c for c in fake.state.channels.values() if c.parent_id == forum.id),
            key=lambda c: c.id,
        )
        assert [p.name for p in posts] == ["Post a-1", "Post a-2"]
        assert fake.count("POST", rf"^/channels/{forum.id}/messages$") == 0
        # The forum's kind is asked once (with its guild's channels), not before every post.
        assert fake.count("GET", rf"^/guilds/{world.guild_id}/channels$") == 1
        assert fake.count("GET", rf"^/channels/{forum.id}$") == 0
