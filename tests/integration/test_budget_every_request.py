"""Discord's global budget counts every request the bot's client makes, not only the outbox's
sends: look-ups, and the retries discord.py makes by itself after a 429 (the real discord.py
client against the loopback fake Discord). And a worker without a gateway does not ask
Discord for a guild's language with every post, while the permissions exactly-once rests on
are still asked for afresh."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import discord

from bot.delivery.budget import (
    DiscordLimits,
    LocalBudget,
    RequestBudget,
    Target,
    request_trace,
)
from bot.delivery.discord_sender import DiscordSender
from bot.store import Store
from tests.deliveryfakes import make_outbox, poll_items
from tests.fakediscord import FakeDiscord
from tests.integration.test_outbox import time_now, world_feed


class CountingBudget(LocalBudget):
    """The in-process budget, counting the slots taken (None: a request outside the outbox)."""

    def __init__(self) -> None:
        super().__init__(DiscordLimits(requests_per_s=1000.0), time.monotonic)
        self.taken: list[Target | None] = []

    async def take(self, target: Target | None) -> None:
        self.taken.append(target)
        await super().take(target)


@contextlib.asynccontextmanager
async def traced_client(fake: FakeDiscord, budget: RequestBudget) -> AsyncIterator[discord.Client]:
    """A client logged in over REST whose every request spends `budget` (as the bot's does)."""
    client = discord.Client(
        intents=discord.Intents(guilds=True),
        allowed_mentions=discord.AllowedMentions.none(),
        http_trace=request_trace(budget),
    )
    try:
        await client.login(fake.token)
        yield client
    finally:
        await client.close()


async def test_every_request_and_every_retry_takes_one_slot_and_a_send_only_its_own() -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        budget = CountingBudget()
        async with traced_client(fake, budget) as client:
            # Look-ups outside the outbox; the guild's first answer is a 429 that discord.py
            # sleeps through and retries by itself.
            fake.faults.rate_limit(rf"^/guilds/{world.guild_id}$", method="GET", retry_after=0.05)
            guild = await client.fetch_guild(world.guild_id)
            await guild.fetch_member(fake.state.bot.id)
            assert fake.count("GET", rf"^/guilds/{world.guild_id}$") == 2
            outside = len(budget.taken)
            # The outbox's send: its `take` reserves the slot the request then spends.
            await budget.take(("channel", world.news_id))
            channel = client.get_partial_messageable(world.news_id, guild_id=world.guild_id)
            await channel.send("hello")
        assert fake.bot_posts(world.news_id)
        # Logging in, the guild twice (the 429 and its retry), the member: one slot each; then
        # the send, counted once, by the outbox's take.
        assert outside == len(fake.requests) - 1
        assert budget.taken[-1] == ("channel", world.news_id)
        assert budget.taken.count(None) == outside
        assert len(budget.taken) == len(fake.requests)


async def test_a_worker_asks_for_a_guilds_language_once_but_for_permissions_every_time() -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        member_path = rf"^/guilds/{world.guild_id}/members/{fake.state.bot.id}$"
        async with traced_client(fake, CountingBudget()) as client:
            sender = DiscordSender(client, gateway=False)
            # As the outbox's workers compose posts to the guild's channels, all at once.
            asked = [sender.guild_locale(world.guild_id) for _ in range(8)]
            asked += [sender.guild_name(world.guild_id) for _ in range(8)]
            assert all(await asyncio.gather(*asked))
            assert await sender.guild_locale(world.guild_id) is not None
            assert fake.count("GET", rf"^/guilds/{world.guild_id}$") == 1
            assert fake.count("GET", member_path) == 1
            # Whether a post that may have gone out can be looked for: asked of Discord each
            # time (a revoked Read Message History reads as an empty history, not an error).
            for expected in (2, 3):
                known = await sender._channels.channel(world.news_id)  # as _should_look asks
                assert known is not None and known.permissions.read_message_history
                assert fake.count("GET", member_path) == expected


async def test_a_worker_learns_its_channels_kinds_from_one_list_per_guild(tmp_path: Path) -> None:
    """Whether a target is a forum (asked before every post): a worker without a gateway
    asked Discord for each channel in turn, one request each per process; the guild's
    channel list answers for all of them at once."""
    store = await Store.open(tmp_path / "bot.db")
    try:
        async with FakeDiscord.serve() as fake:
            world = fake.state.add_standard_guild()
            channels = (world.news_id, world.general_id)
            feed = await world_feed(store, world, *channels)
            await poll_items(store, feed, ["a-2", "a-1"], now=time_now())
            async with traced_client(fake, CountingBudget()) as client:
                await make_outbox(store, DiscordSender(client, gateway=False)).drain()
            for channel in channels:
                assert [p.embeds[0]["title"] for p in fake.bot_posts(channel)] == [
                    "Post a-1",
                    "Post a-2",
                ]
            assert fake.count("GET", rf"^/guilds/{world.guild_id}/channels$") == 1
            assert fake.count("GET", r"^/channels/\d+$") == 0
    finally:
        await store.close()
