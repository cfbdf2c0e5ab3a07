"""FakeDiscord: the loopback server (REST + gateway) and the API tests drive it with."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from aiohttp import web

from .faults import FaultInjector
from .gateway import Gateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    InteractionHandle,
    InteractionRegistry,
)
from .messages import store_message
from .permissions import DEFAULT_BOT, Overwrite
from .ratelimits import RateLimiter
from .rest import RequestRecord, RestApi, RestConfig, SyncCall
from .state import DM, FakeClock, FakeState, StoredMessage
from .webhooks import Webhooks

log = logging.getLogger(__name__)

ENV_API_BASE = "FAKEDISCORD_API_BASE"
ENV_GATEWAY = "FAKEDISCORD_GATEWAY"


class FakeDiscordTimeout(AssertionError):
    """A wait on the fake ran out of time (an AssertionError, so pytest shows it plainly)."""


class FakeDiscord:
    """A loopback Discord (REST + gateway) that the real discord.py client accepts.

    See the package docstring for the full API and an example.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "digestbot",
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = 41250,
        reject_privileged_intents: bool = True,
        enforce_rate_limits: bool = True,
        send_limit: int = 5,
        send_per: float = 5.0,
        global_limit: int = 50,
        interaction_deadline: float = 3.0,
        nonce_window: float = 300.0,
        recommended_shards: int = 1,
        max_guilds_per_shard: int | None = None,
    ) -> None:
        self.clock = FakeClock()
        self.state = FakeState(self.clock, bot_name=bot_name, token=token)
        self.host = host
        self._port = port
        self.faults = FaultInjector()
        self.ratelimits = RateLimiter(
            self.clock,
            send_limit=send_limit,
            send_per=send_per,
            global_limit=global_limit,
            enforce=enforce_rate_limits,
        )
        self._waiters: list[asyncio.Event] = []
        self.gateway = Gateway(
            self.state,
            resume_url=lambda: self.resume_gateway_url,
            on_change=self._changed,
            heartbeat_interval_ms=heartbeat_interval_ms,
            reject_privileged_intents=reject_privileged_intents,
            recommended_shards=recommended_shards,
            max_guilds_per_shard=max_guilds_per_shard,
        )
        self.interactions = InteractionRegistry(self.state, deadline=interaction_deadline)
        self._config = RestConfig(nonce_window=nonce_window)
        self.rest = RestApi(
            self.state,
            gateway=self.gateway,
            interactions=self.interactions,
            faults=self.faults,
            ratelimits=self.ratelimits,
            config=self._config,
            on_change=self._changed,
        )
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self.rest.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_get("/cdn/attachments/{id}/{name}", self._serve_upload)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self._port = server.sockets[0].getsockname()[1]
        self._config.gateway_url = self.gateway_url
        self.interactions.cdn_base = f"http://{self.host}:{self._port}/cdn"
        return self

    async def _serve_upload(self, request: web.Request) -> web.Response:
        upload = self.interactions.uploads.get(int(request.match_info["id"]))
        if upload is None:
            return web.Response(status=404)
        return web.Response(body=upload.data, content_type=upload.content_type)

    async def stop(self) -> None:
        """Close gateway connections and stop the server; safe to call twice."""
        await self.gateway.close_all()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await asyncio.wait_for(runner.cleanup(), timeout=5.0)

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.asynccontextmanager
    async def serve(cls, **options: Any) -> AsyncIterator[FakeDiscord]:
        """Start a fake (``options`` go to the constructor), point discord.py at it,
        and on exit restore discord.py and stop the server."""
        fake = cls(**options)
        await fake.start()
        try:
            with fake.patch_discord():
                yield fake
        finally:
            await fake.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return f"http://{self.host}:{self._port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be."""
        return f"ws://{self.host}:{self._port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """READY's resume_gateway_url (a different path, so tests can see it was used)."""
        return f"ws://{self.host}:{self._port}/resume"

    @property
    def token(self) -> str:
        return self.state.token

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py (this process) at the fake; restores the originals on exit."""
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a bot subprocess started via ``python -m tests.fakediscord.launch``
        (includes DISCORD_TOKEN)."""
        env = dict(os.environ)
        env[ENV_API_BASE] = self.api_base
        env[ENV_GATEWAY] = self.gateway_url
        env["DISCORD_TOKEN"] = self.token
        return env

    # ---- waiting ---------------------------------------------------------------------------

    def _changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded wait)
        what: str = "condition",
    ) -> None:
        """Re-check ``predicate`` after every request/gateway event until true or timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise FakeDiscordTimeout(f"timed out after {timeout}s waiting for {what}")
            event = asyncio.Event()
            self._waiters.append(event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.25))

    async def wait_for_messages(
        self,
        channel_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded wait)
    ) -> list[StoredMessage]:
        """Wait until the channel holds at least ``count`` visible messages; returns them."""
        await self.wait_until(
            lambda: len(self.messages(channel_id)) >= count,
            timeout,
            f"{count} message(s) in channel {channel_id}",
        )
        return self.messages(channel_id)

    async def wait_for_dms(
        self,
        user_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded wait)
    ) -> list[StoredMessage]:
        await self.wait_until(
            lambda: len(self.dms(user_id)) >= count, timeout, f"{count} DM(s) to {user_id}"
        )
        return self.dms(user_id)

    async def wait_for_gateway(self, kind: str, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (bounded wait)
        """Wait until ``count`` gateway events of ``kind`` (ready, resumed, close…) happened."""
        await self.wait_until(
            lambda: self.gateway.kinds().count(kind) >= count, timeout, f"gateway {kind} x{count}"
        )

    async def wait_for_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (bounded wait)
        """Wait until the bot identified and got READY (not the same as discord.py's
        on_ready, which discord.py delays by guild_ready_timeout)."""
        await self.wait_for_gateway("ready", 1, timeout)

    async def wait_for_sync(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (bounded wait)
        await self.wait_until(
            lambda: len(self.rest.sync_calls) >= count, timeout, f"{count} command sync(s)"
        )

    # ---- gateway controls ------------------------------------------------------------------

    def dispatch(self, event: str, data: Any) -> int:
        """Send a raw dispatch (buffered for RESUME while disconnected); returns its seq."""
        return self.gateway.dispatch(event, data)

    def drop_connection(self, shard_id: int | None = None) -> bool:
        return self.gateway.drop_connection(shard_id)

    def send_reconnect(self, shard_id: int | None = None) -> bool:
        return self.gateway.send_reconnect(shard_id)

    def invalidate_session(self, *, resumable: bool = False, shard_id: int | None = None) -> bool:
        return self.gateway.invalidate_session(resumable=resumable, shard_id=shard_id)

    # ---- live state changes (dispatch the matching events when connected) -----------------------

    def _maybe_dispatch(self, event: str, data: Any) -> None:
        if self.gateway.sessions:
            self.gateway.dispatch(event, data)

    def set_overwrite(self, channel_id: int, overwrite: Overwrite) -> None:
        """Add/replace a channel overwrite and dispatch CHANNEL_UPDATE."""
        channel = self.state.channels[channel_id]
        channel.overwrites = [
            o for o in channel.overwrites if (o.type, o.id) != (overwrite.type, overwrite.id)
        ] + [overwrite]
        self._maybe_dispatch("CHANNEL_UPDATE", channel.payload(self.state))

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        role = self.state.guilds[guild_id].roles[role_id]
        role.permissions = permissions
        self._maybe_dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.payload()}
        )

    def set_member_roles(self, guild_id: int, user_id: int, roles: list[int]) -> None:
        member = self.state.guilds[guild_id].members[user_id]
        member.roles = list(roles)
        payload = self.state.member_payload(guild_id, user_id)
        payload["guild_id"] = str(guild_id)
        self._maybe_dispatch("GUILD_MEMBER_UPDATE", payload)

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (later sends get 404/10003) and dispatch CHANNEL_DELETE."""
        channel = self.state.channels.pop(channel_id)
        if channel.guild_id is not None:
            self.state.guilds[channel.guild_id].channel_ids.remove(channel_id)
        self._maybe_dispatch("CHANNEL_DELETE", channel.payload(self.state))

    def add_bot_to_guild(self, guild_id: int) -> None:
        """Make the bot a member of an existing guild (GUILD_CREATE, as on an invite)."""
        state = self.state
        if state.bot.id not in state.guilds[guild_id].members:
            role = state.add_role(
                guild_id, state.bot.username, DEFAULT_BOT, managed=True, bot_id=state.bot.id
            )
            state.add_member(guild_id, state.bot.id, roles=[role.id])
        if self.gateway.sessions:
            self.gateway.dispatch("GUILD_CREATE", self.gateway.guild_create_payload(guild_id))

    def remove_bot_from_guild(self, guild_id: int) -> None:
        self.state.guilds[guild_id].members.pop(self.state.bot.id, None)
        self._maybe_dispatch("GUILD_DELETE", {"id": str(guild_id)})

    def seed_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        *,
        embeds: list[dict[str, Any]] | None = None,
        nonce: str | None = None,
    ) -> StoredMessage:
        """Store a message as if it had been posted earlier (by a member, or by the bot
        before a crash); dispatches MESSAGE_CREATE if the bot's intents ask for it."""
        state = self.state
        message = StoredMessage(
            id=state.snowflake(),
            channel_id=channel_id,
            guild_id=state.channels[channel_id].guild_id,
            author_id=author_id,
            content=content,
            embeds=list(embeds or []),
            nonce=nonce,
            created_at=self.clock.wall(),
            created_mono=self.clock.monotonic(),
        )
        store_message(state, message)
        self.rest.dispatch_message_create(message)
        self._changed()
        return message

    # ---- interactions ----------------------------------------------------------------------

    def _handle(self, record_type: int, **kwargs: Any) -> InteractionHandle:
        record = self.interactions.new_record(record_type, **kwargs)
        self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        return InteractionHandle(record, lambda p, t: self.wait_until(p, t, "interaction answer"))

    async def invoke_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        locale: str = "en-US",
        respect_default_permissions: bool = False,
    ) -> InteractionHandle:
        """Send a slash-command INTERACTION_CREATE. ``name`` is the full path
        ("feed add"); option values are plain values (ids for user/channel/role options;
        types come from the synced command, or wrap in UserOpt/ChannelOpt/RoleOpt)."""
        path = name.split()
        if respect_default_permissions and guild_id is not None:
            self._check_default_permissions(path[0], guild_id, user_id)
        data = self.interactions.command_data(
            path, options or {}, guild_id=guild_id, channel_id=channel_id, user_id=user_id
        )
        return self._handle(
            APPLICATION_COMMAND,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            data=data,
            locale=locale,
        )

    async def invoke_autocomplete(
        self,
        name: str,
        focused: str,
        options: dict[str, Any] | None = None,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """Send an autocomplete interaction; ``options[focused]`` is what the user typed.
        ``await handle.choices()`` returns the bot's choices."""
        opts = dict(options or {})
        opts.setdefault(focused, "")
        data = self.interactions.command_data(
            name.split(),
            opts,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            focused=focused,
        )
        return self._handle(
            AUTOCOMPLETE,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            data=data,
            locale=locale,
        )

    async def invoke_component(
        self,
        message: StoredMessage,
        custom_id: str,
        user_id: int,
        *,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """Click a button (or choose in a select with ``values``) on a stored message."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return self._handle(
            MESSAGE_COMPONENT,
            guild_id=message.guild_id,
            channel_id=message.channel_id,
            user_id=user_id,
            data=data,
            locale=locale,
            message=message,
        )

    def _check_default_permissions(self, name: str, guild_id: int, user_id: int) -> None:
        command = self.interactions.find_command(name, guild_id)
        if command is None or command.get("default_member_permissions") is None:
            return
        needed = int(command["default_member_permissions"])
        have = self.state.guild_permissions(guild_id, user_id)
        if have & needed != needed:
            raise PermissionError(f"Discord hides /{name} from user {user_id}")

    # ---- observation -------------------------------------------------------------------------

    def messages(self, channel_id: int) -> list[StoredMessage]:
        """Visible (not deleted, not ephemeral) messages of a channel, oldest first."""
        return self.state.visible_messages(channel_id)

    def bot_posts(self, channel_id: int) -> list[StoredMessage]:
        """Messages the bot posted with POST /channels/{id}/messages (no interaction replies)."""
        return [
            m
            for m in self.messages(channel_id)
            if m.author_id == self.state.bot.id and m.interaction_id is None
        ]

    def webhook_posts(self, channel_id: int) -> list[StoredMessage]:
        """Messages channel webhooks posted in a channel (``webhook_username``: the name shown,
        ``webhook_avatar_url``: the avatar), oldest first."""
        return [m for m in self.messages(channel_id) if m.webhook_username is not None]

    @property
    def webhooks(self) -> Webhooks:
        """Every channel webhook (``webhooks.of_channel(id)``, ``webhooks.by_id``)."""
        return self.rest.webhooks

    def delete_webhook(self, webhook_id: int) -> None:
        """An admin deletes a webhook in Discord's settings (its executes then get 404/10015)."""
        self.rest.webhooks.by_id[webhook_id].deleted = True

    def dms(self, user_id: int) -> list[StoredMessage]:
        """Messages in the DM channel with ``user_id``, oldest first."""
        for channel in self.state.channels.values():
            if channel.type == DM and channel.recipient_id == user_id:
                return self.messages(channel.id)
        return []

    def message(self, message_id: int) -> StoredMessage | None:
        return self.state.message_index.get(message_id)

    @property
    def requests(self) -> list[RequestRecord]:
        return self.rest.requests

    def requests_matching(self, method: str | None, pattern: str) -> list[RequestRecord]:
        """Logged requests whose path (below /api/v10) matches ``pattern`` (re.search)."""
        rx = re.compile(pattern)
        return [
            r
            for r in self.rest.requests
            if (method is None or r.method == method.upper()) and rx.search(r.path)
        ]

    def count(self, method: str | None, pattern: str) -> int:
        return len(self.requests_matching(method, pattern))

    @property
    def sync_calls(self) -> list[SyncCall]:
        return self.rest.sync_calls

    @property
    def command_sync_count(self) -> int:
        return len(self.rest.sync_calls)

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        if guild_id is None:
            return list(self.state.global_commands)
        return list(self.state.guild_commands.get(guild_id, []))

    @property
    def nonce_window(self) -> float:
        """Seconds a nonce de-duplicates a repeated send (Discord: "the past few minutes")."""
        return self._config.nonce_window

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward (nonce windows, interaction deadlines, buckets)."""
        self.clock.advance(seconds)
