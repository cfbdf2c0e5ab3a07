"""A target channel and the bot's permissions in it: from the gateway's cache, else over REST.

A process whose shards hold the channel's guild has the channel, the guild's roles and the
bot's member from the gateway. Otherwise (a worker, DIGESTBOT_SHARDS=none, or another shard's
guild) it asks Discord for them and lets discord.py compute the permissions exactly as for the
cache. A channel's kind (forum or not) and a guild's name and language change rarely and are
reused for a few minutes (else a worker asked twice per post); the permissions exactly-once
rests on are always asked afresh: a stale "readable" would not be corrected by Discord (it
answers an unreadable history with an empty list), it would repeat a post.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord

from bot.delivery.senders import RetryableSendError

#: How long a maybe-sent delivery waits for the gateway (the channel's permissions) to load.
READY_TIMEOUT_S = 30.0
#: How long a channel fetched over REST is reused where only its kind matters.
KIND_TTL_S = 300.0
KINDS_REMEMBERED = 4096
#: How long a guild fetched over REST (with the bot's member) is reused for its name and
#: language, and for a channel's kind.
GUILD_TTL_S = 300.0
GUILDS_REMEMBERED = 1024

GuildChannel = discord.abc.GuildChannel | discord.Thread


@dataclass(frozen=True, slots=True)
class KnownChannel:
    """A guild channel and what the bot may do there."""

    channel: GuildChannel
    permissions: discord.Permissions


class ChannelLookup:
    """Channels of any guild, for a client with a gateway (`gateway=True`) or without one.

    Discord's errors other than 403/404 (the channel is gone or hidden: None) propagate as
    discord.py raises them; the caller turns them into send errors."""

    def __init__(self, client: discord.Client, *, gateway: bool) -> None:
        self._client = client
        self._gateway = gateway
        self._kinds: dict[int, tuple[float, KnownChannel]] = {}
        self._guilds: dict[int, tuple[float, tuple[discord.Guild, discord.Member]]] = {}
        self._listed: dict[int, tuple[float, dict[int, KnownChannel]]] = {}
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    async def channel(
        self, channel_id: int, *, fresh: bool = True, guild_id: int | None = None
    ) -> KnownChannel | None:
        """The channel with the bot's permissions now (`fresh`), or as of a few minutes ago
        (for its kind only; `guild_id`, when known, lets one request learn all of its guild's
        channels); None when it does not exist or the bot cannot see it."""
        cached = await self._cached(channel_id)
        if cached is not None:
            return cached
        known = None
        if not fresh:
            remembered = self._kinds.get(channel_id)
            if remembered is not None and time.monotonic() - remembered[0] < KIND_TTL_S:
                return remembered[1]
            if guild_id is not None:
                known = await self._listed_in(guild_id, channel_id)
        if known is None:  # not listed: a thread, or a channel made since the list
            known = await self._fetch(channel_id, fresh=fresh)
        if known is not None:  # one it cannot see now may be granted it in a minute
            self._kinds[channel_id] = (time.monotonic(), known)
            while len(self._kinds) > KINDS_REMEMBERED:
                del self._kinds[next(iter(self._kinds))]
        return known

    async def guild(
        self, guild_id: int, *, fresh: bool = True
    ) -> tuple[discord.Guild, discord.Member] | None:
        """The guild and the bot's member in it (None: the bot is not in it): as they are now
        (`fresh`: its roles and the member decide permissions), or as of a few minutes ago."""
        cached = self._client.get_guild(guild_id) if self._gateway else None
        if cached is not None and cached.me is not None:
            return cached, cached.me
        if fresh:
            return await self._fetch_guild(guild_id)
        async with self._one_at_a_time(("guild", guild_id)):  # the others wait for its answer
            remembered = self._guilds.get(guild_id)
            if remembered is not None and time.monotonic() - remembered[0] < GUILD_TTL_S:
                return remembered[1]
            return await self._fetch_guild(guild_id)

    async def _fetch_guild(self, guild_id: int) -> tuple[discord.Guild, discord.Member] | None:
        me = self._client.user
        if me is None:
            return None
        try:
            guild = await self._client.fetch_guild(guild_id)
            member = await guild.fetch_member(me.id)
        except (discord.NotFound, discord.Forbidden):
            self._guilds.pop(guild_id, None)
            return None
        self._guilds.pop(guild_id, None)  # re-inserted last: the oldest are dropped first
        self._guilds[guild_id] = (time.monotonic(), (guild, member))
        while len(self._guilds) > GUILDS_REMEMBERED:
            del self._guilds[next(iter(self._guilds))]
        return guild, member

    async def _listed_in(self, guild_id: int, channel_id: int) -> KnownChannel | None:
        """The channel as its guild's channel list had it (one request for every channel of
        the guild, reused for GUILD_TTL_S), with the bot's permissions as of then."""
        async with self._one_at_a_time(("channels", guild_id)):
            listed = self._listed.get(guild_id)
            if listed is None or time.monotonic() - listed[0] >= GUILD_TTL_S:
                found = await self.guild(guild_id, fresh=False)
                if found is None:
                    return None
                guild, me = found
                try:
                    channels = await guild.fetch_channels()
                except (discord.NotFound, discord.Forbidden):
                    return None
                known = {c.id: KnownChannel(c, c.permissions_for(me)) for c in channels}
                listed = self._listed[guild_id] = (time.monotonic(), known)
                while len(self._listed) > GUILDS_REMEMBERED:
                    del self._listed[next(iter(self._listed))]
        return listed[1].get(channel_id)

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, key: tuple[str, int]) -> AsyncIterator[None]:
        """One look-up of `key` at a time: the outbox's workers start together, and each
        would otherwise ask Discord the same question before the first answer is kept."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def _cached(self, channel_id: int) -> KnownChannel | None:
        """The channel as the gateway loaded it, waiting (a while) for the gateway if needed."""
        if not self._gateway:
            return None
        client = self._client
        channel = client.get_channel(channel_id)
        if channel is None and not client.is_ready():
            try:
                await asyncio.wait_for(client.wait_until_ready(), READY_TIMEOUT_S)
            except TimeoutError:
                raise RetryableSendError(
                    "not connected to Discord yet: cannot tell whether I may read the "
                    "channel's history"
                ) from None
            channel = client.get_channel(channel_id)
        if isinstance(channel, GuildChannel) and channel.guild.me is not None:
            return KnownChannel(channel, channel.permissions_for(channel.guild.me))
        return None

    async def _fetch(self, channel_id: int, *, fresh: bool) -> KnownChannel | None:
        try:
            channel = await self._client.fetch_channel(channel_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        if isinstance(channel, discord.Thread):
            # A thread's permissions are its parent's (threads inherit its overwrites).
            parent = await self._fetch(channel.parent_id, fresh=fresh)
            return KnownChannel(channel, parent.permissions) if parent is not None else None
        if not isinstance(channel, discord.abc.GuildChannel):
            return None
        found = await self.guild(channel.guild.id, fresh=fresh)
        if found is None:
            return None
        guild, me = found
        # discord.py builds a fetched channel on a placeholder guild when the guild is not
        # cached; the fetched guild holds the roles permissions are computed from.
        channel.guild = guild
        return KnownChannel(channel, channel.permissions_for(me))
