"""The fake REST API under ``/api/v10``: routing, auth, faults, rate limits, handlers.

Every request is logged (:class:`RequestRecord`), checked against injected faults and
rate-limit buckets, then handled. Errors use Discord's JSON shape and codes; JSON
responses carry ``Content-Type: application/json`` exactly (discord.py parses JSON only
then) and every response carries ``Via`` (discord.py takes a 429 without it for a
Cloudflare ban).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from . import errors as E
from . import permissions as P
from .errors import ApiError
from .faults import FaultInjector, FaultRule
from .gateway import Gateway
from .interactions import InteractionRegistry
from .messages import (
    apply_edit,
    build_message,
    check_can_send,
    find_by_nonce,
    remember_nonce,
    store_message,
)
from .ratelimits import RateLimiter
from .state import DM, FORUM, PUBLIC_THREAD, TEXT, Attachment, FakeChannel, FakeState, StoredMessage
from .webhooks import Webhooks

GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
VIA = "1.1 google"


@dataclass
class RequestRecord:
    """One REST request as the fake saw it (``body`` is the JSON or ``payload_json``)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: int
    at: float
    status: int = 0
    authorized: bool = True
    fault: str | None = None


@dataclass
class SyncCall:
    """One bulk overwrite of application commands (``guild_id`` None = global)."""

    guild_id: int | None
    names: list[str]
    at: float


@dataclass
class Ctx:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    attachments: list[Attachment]
    params: dict[str, str]


Reply = tuple[int, Any]
Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    bucket: str
    auth: bool = True
    ratelimited: bool = True


@dataclass
class RestConfig:
    nonce_window: float = 300.0
    gateway_url: str = ""


# Discord's locales (https://discord.com/developers/docs/reference#locales).
DISCORD_LOCALES = frozenset(
    {
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    }
)


def localization_errors(entry: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Discord's checks of a command's (or option's, recursively) localizations: known locales,
    names 1–32 lowercase letters, digits, - or _ (any script), descriptions 1–100 characters."""
    errors: dict[str, Any] = {}
    for key, value in (entry.get("name_localizations") or {}).items():
        ok = isinstance(value, str) and 0 < len(value) <= 32 and value == value.lower()
        if key not in DISCORD_LOCALES or not ok or not all(c.isalnum() or c in "-_" for c in value):
            errors[f"{where}name_localizations.{key}"] = E.form_error(
                "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
    for key, value in (entry.get("description_localizations") or {}).items():
        if key not in DISCORD_LOCALES or not isinstance(value, str) or not 0 < len(value) <= 100:
            errors[f"{where}description_localizations.{key}"] = E.form_error(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
    for index, option in enumerate(entry.get("options") or []):
        errors |= localization_errors(option, f"{where}options.{index}.")
    return errors


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    out = {"Content-Type": "application/json", "Via": VIA}
    out.update(headers or {})
    return web.Response(status=status, body=json.dumps(data).encode(), headers=out)


class RestApi:
    def __init__(
        self,
        state: FakeState,
        *,
        gateway: Gateway,
        interactions: InteractionRegistry,
        faults: FaultInjector,
        ratelimits: RateLimiter,
        config: RestConfig,
        on_change: Callable[[], None],
    ) -> None:
        self.state = state
        self.gateway = gateway
        self.interactions = interactions
        self.faults = faults
        self.ratelimits = ratelimits
        self.config = config
        self._on_change = on_change
        self.requests: list[RequestRecord] = []
        self.sync_calls: list[SyncCall] = []
        self.routes: list[_Route] = []
        self.webhooks = Webhooks(state)
        self._build_routes()

    # ---- routing ---------------------------------------------------------------------------

    def _add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        bucket: str | None = None,
        *,
        auth: bool = True,
        ratelimited: bool = True,
    ) -> None:
        self.routes.append(
            _Route(
                method,
                re.compile(pattern),
                handler,
                bucket or f"{method} {pattern}",
                auth,
                ratelimited,
            )
        )

    def _build_routes(self) -> None:
        a = self._add
        app = r"/applications/(?P<app_id>\d+)"
        gcmd = app + r"/guilds/(?P<guild_id>\d+)/commands"
        ch = r"/channels/(?P<channel_id>\d+)"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        a("GET", r"/users/@me", self.get_me)
        a("POST", r"/users/@me/channels", self.create_dm)
        a("GET", r"/users/(?P<user_id>\d+)", self.get_user)
        a("GET", r"/gateway", self.get_gateway, auth=False)
        a("GET", r"/gateway/bot", self.get_gateway_bot)
        a("GET", r"/oauth2/applications/@me", self.get_application)
        a("GET", r"/applications/@me", self.get_application)
        a("GET", app + r"/commands", self.list_commands)
        a("PUT", app + r"/commands", self.put_commands)
        a("POST", app + r"/commands", self.post_command)
        a("DELETE", app + r"/commands/(?P<command_id>\d+)", self.delete_command)
        a("GET", gcmd, self.list_commands)
        a("PUT", gcmd, self.put_commands)
        a("POST", gcmd, self.post_command)
        a("DELETE", gcmd + r"/(?P<command_id>\d+)", self.delete_command)
        a("GET", ch, self.get_channel)
        a("GET", ch + r"/messages", self.list_messages)
        a("POST", ch + r"/messages", self.create_message, "message-send")
        a("GET", ch + r"/messages/(?P<message_id>\d+)", self.get_message)
        a("PATCH", ch + r"/messages/(?P<message_id>\d+)", self.edit_message)
        a("DELETE", ch + r"/messages/(?P<message_id>\d+)", self.delete_message)
        a("POST", ch + r"/typing", self.typing)
        a("POST", ch + r"/threads", self.start_thread)
        a("POST", ch + r"/messages/(?P<message_id>\d+)/threads", self.start_thread_from_message)
        a("GET", r"/guilds/(?P<guild_id>\d+)/threads/active", self.list_active_threads)
        a("GET", ch + r"/webhooks", self.list_channel_webhooks)
        a("POST", ch + r"/webhooks", self.create_channel_webhook)
        a("GET", r"/webhooks/(?P<webhook_id>\d+)", self.get_webhook)
        a("DELETE", r"/webhooks/(?P<webhook_id>\d+)", self.delete_webhook)
        a("DELETE", hook, self.delete_webhook_with_token, auth=False)
        a("GET", r"/guilds/(?P<guild_id>\d+)", self.get_guild)
        a("GET", r"/guilds/(?P<guild_id>\d+)/channels", self.get_guild_channels)
        a("GET", r"/guilds/(?P<guild_id>\d+)/roles", self.get_guild_roles)
        a("GET", r"/guilds/(?P<guild_id>\d+)/members", self.list_members)
        a("GET", r"/guilds/(?P<guild_id>\d+)/members/(?P<user_id>\d+)", self.get_member)
        a(
            "POST",
            r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
            self.interaction_callback,
            auth=False,
            ratelimited=False,
        )
        a("POST", hook, self.webhook_execute, auth=False, ratelimited=False)
        for method, handler in (
            ("GET", self.webhook_get_message),
            ("PATCH", self.webhook_edit_message),
            ("DELETE", self.webhook_delete_message),
        ):
            a(
                method,
                hook + r"/messages/(?P<message_id>@original|\d+)",
                handler,
                auth=False,
                ratelimited=False,
            )

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        path_matched = False
        for route in self.routes:
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            path_matched = True
            if route.method == method:
                return route, m.groupdict()
        if path_matched:
            raise ApiError(405, 0, "405: Method Not Allowed")
        return None

    # ---- entry point -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info.get("tail", "")
        method = request.method
        try:
            body, attachments = await self._read_body(request)
        except ApiError as exc:
            return json_response(exc.status, exc.body())
        record = RequestRecord(
            method,
            path,
            dict(request.query),
            body,
            len(attachments),
            self.state.clock.monotonic(),
        )
        self.requests.append(record)
        response = await self._respond(request, record, body, attachments)
        record.status = response.status
        self._on_change()
        return response

    async def _respond(
        self,
        request: web.Request,
        record: RequestRecord,
        body: Any,
        attachments: list[Attachment],
    ) -> web.StreamResponse:
        try:
            found = self._match(record.method, record.path)
        except ApiError as exc:
            return json_response(exc.status, exc.body())
        if found is None:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        route, params = found
        if route.auth and request.headers.get("Authorization") != f"Bot {self.state.token}":
            record.authorized = False
            return json_response(401, {"message": "401: Unauthorized", "code": 0})

        fault = self.faults.take(record.method, record.path)
        if fault is not None:
            record.fault = fault.action if fault.action != "status" else str(fault.status)
            if fault.action == "delay" and not fault.after_effect:
                await asyncio.sleep(fault.delay)
                fault = None
            elif not fault.after_effect:
                return self._fault_response(request, fault)

        headers: dict[str, str] = {}
        if route.ratelimited:
            major = params.get("channel_id") or params.get("guild_id") or params.get("app_id") or ""
            channel_id = int(params["channel_id"]) if "channel_id" in params else None
            decision = self.ratelimits.check(
                route.bucket, major, is_send=route.bucket == "message-send", channel_id=channel_id
            )
            headers.update(decision.headers)
            if decision.limited:
                return self._too_many(decision.retry_after, decision.is_global, headers)

        ctx = Ctx(record.method, record.path, record.query, body, attachments, params)
        try:
            status, data = await route.handler(ctx)
        except ApiError as exc:
            return json_response(exc.status, exc.body(), headers)
        if fault is not None and fault.action == "delay":
            # Acted on, then the answer is held: a crash now leaves a post the bot never heard
            # about (the nonce window may pass before it looks).
            await asyncio.sleep(fault.delay)
        elif fault is not None:
            return self._fault_response(request, fault)
        if status == 204:
            return web.Response(status=204, headers={"Via": VIA, **headers})
        return json_response(status, data, headers)

    def _fault_response(self, request: web.Request, fault: FaultRule) -> web.StreamResponse:
        if fault.action == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if fault.status == 429:
            headers = {"X-RateLimit-Scope": "global" if fault.is_global else "user"}
            if fault.is_global:
                headers["X-RateLimit-Global"] = "true"
            response = self._too_many(fault.retry_after, fault.is_global, headers)
            if not fault.with_via:
                del response.headers["Via"]
            return response
        if fault.status >= 500:
            return json_response(
                fault.status, {"message": f"{fault.status}: Server Error", "code": 0}
            )
        return json_response(fault.status, {"message": "injected fault", "code": 0})

    def _too_many(
        self, retry_after: float, is_global: bool, headers: dict[str, str]
    ) -> web.Response:
        headers = dict(headers)
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        headers.setdefault("X-RateLimit-Scope", "global" if is_global else "user")
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
            "code": 0,
        }
        return json_response(429, body, headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Attachment]]:
        if not request.can_read_body:
            return None, []
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            try:
                return json.loads(raw) if raw else None, []
            except ValueError:
                raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
        if ctype == "multipart/form-data":
            body: Any = None
            attachments: list[Attachment] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    try:
                        body = json.loads(data)
                    except ValueError:
                        raise ApiError(
                            400, 50109, "The request body contains invalid JSON."
                        ) from None
                elif part.name and part.name.startswith("files["):
                    attachments.append(
                        Attachment(
                            self.state.snowflake(),
                            part.filename or "file",
                            len(data),
                            part.headers.get("Content-Type"),
                            bytes(data),
                        )
                    )
            return body, attachments
        await request.read()
        return None, []

    # ---- users, gateway, application ---------------------------------------------------------

    async def get_me(self, ctx: Ctx) -> Reply:
        return 200, {**self.state.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def get_user(self, ctx: Ctx) -> Reply:
        user = self.state.users.get(int(ctx.params["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user.payload()

    async def create_dm(self, ctx: Ctx) -> Reply:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        try:
            uid = int(body.get("recipient_id", 0))
        except (TypeError, ValueError):
            uid = 0
        if uid not in self.state.users:
            raise E.invalid_form(
                {"recipient_id": E.form_error("NUMBER_TYPE_COERCE", "Value is not snowflake.")}
            )
        return 200, self.state.dm_channel_for(uid).payload(self.state)

    async def get_gateway(self, ctx: Ctx) -> Reply:
        return 200, {"url": self.config.gateway_url}

    async def get_gateway_bot(self, ctx: Ctx) -> Reply:
        return 200, {
            "url": self.config.gateway_url,
            "shards": self.gateway.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 86400000,
                "max_concurrency": 1,
            },
        }

    async def get_application(self, ctx: Ctx) -> Reply:
        state = self.state
        owner = (
            state.users[next(iter(state.guilds.values())).owner_id] if state.guilds else state.bot
        )
        return 200, {
            "id": str(state.application_id),
            "name": state.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": owner.payload(),
            "team": None,
            "flags": state.application_flags,
            "bot": state.bot.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(state.bot_guild_ids()),
        }

    # ---- application commands ----------------------------------------------------------------

    def _command_list(self, ctx: Ctx) -> tuple[int | None, list[dict[str, Any]]]:
        if int(ctx.params["app_id"]) != self.state.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" in ctx.params:
            gid = int(ctx.params["guild_id"])
            if gid not in self.state.guilds:
                raise ApiError(404, 10004, "Unknown Guild")
            return gid, self.state.guild_commands.setdefault(gid, [])
        return None, self.state.global_commands

    def _normalize_command(
        self, raw: Any, guild_id: int | None, existing: list[dict[str, Any]]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise E.invalid_form(
                {"name": E.form_error("BASE_TYPE_REQUIRED", "This field is required")}
            )
        ctype = raw.get("type", 1)
        desc = raw.get("description", "")
        if ctype == 1 and not (1 <= len(desc) <= 100):
            raise E.invalid_form(
                {
                    "description": E.form_error(
                        "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                    )
                }
            )
        if localized := localization_errors(raw):
            raise E.invalid_form(localized)
        old = next(
            (c for c in existing if c["name"] == raw["name"] and c.get("type", 1) == ctype), None
        )
        perms = raw.get("default_member_permissions")
        cmd = {
            "id": old["id"] if old else str(self.state.snowflake()),
            "application_id": str(self.state.application_id),
            "version": str(self.state.snowflake()),
            "type": ctype,
            "name": raw["name"],
            "name_localizations": raw.get("name_localizations"),
            "description": desc,
            "description_localizations": raw.get("description_localizations"),
            "options": raw.get("options", []),
            "default_member_permissions": None if perms is None else str(perms),
            "dm_permission": raw.get("dm_permission", True),
            "contexts": raw.get("contexts"),
            "integration_types": raw.get("integration_types", [0]),
            "nsfw": raw.get("nsfw", False),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    async def list_commands(self, ctx: Ctx) -> Reply:
        return 200, self._command_list(ctx)[1]

    async def put_commands(self, ctx: Ctx) -> Reply:
        guild_id, existing = self._command_list(ctx)
        if not isinstance(ctx.body, list) or len(ctx.body) > 100:
            raise E.invalid_form(
                {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Only iterables"}]}
            )
        new = [self._normalize_command(raw, guild_id, existing) for raw in ctx.body]
        existing[:] = new
        self.sync_calls.append(
            SyncCall(guild_id, [c["name"] for c in new], self.state.clock.monotonic())
        )
        return 200, new

    async def post_command(self, ctx: Ctx) -> Reply:
        guild_id, existing = self._command_list(ctx)
        cmd = self._normalize_command(ctx.body, guild_id, existing)
        existing[:] = [c for c in existing if c["id"] != cmd["id"]] + [cmd]
        return 201, cmd

    async def delete_command(self, ctx: Ctx) -> Reply:
        _, existing = self._command_list(ctx)
        before = len(existing)
        existing[:] = [c for c in existing if c["id"] != ctx.params["command_id"]]
        if len(existing) == before:
            raise ApiError(404, 10063, "Unknown application command")
        return 204, None

    # ---- channels and messages ------------------------------------------------------------

    def _channel(self, ctx: Ctx, *, view: bool = True) -> int:
        cid = int(ctx.params["channel_id"])
        channel = self.state.channels.get(cid)
        if channel is None:
            raise E.unknown_channel()
        if channel.type == DM:
            return cid
        if view and not self.state.permissions_in(cid, self.state.bot.id) & P.VIEW_CHANNEL:
            raise E.missing_access()
        return cid

    async def get_channel(self, ctx: Ctx) -> Reply:
        cid = self._channel(ctx)
        return 200, self.state.channels[cid].payload(self.state)

    def _can_read_history(self, cid: int) -> bool:
        state = self.state
        if state.channels[cid].type == DM:
            return True
        return bool(state.permissions_in(cid, state.bot.id) & P.READ_MESSAGE_HISTORY)

    async def list_messages(self, ctx: Ctx) -> Reply:
        cid = self._channel(ctx)
        state = self.state
        if not self._can_read_history(cid):
            # Discord: without View Channel 403/50001 (above); without Read Message History
            # "no messages will be returned": 200 and an empty list, not an error.
            return 200, []
        try:
            limit = int(ctx.query.get("limit", "50"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            raise E.invalid_form(
                {"limit": E.form_error("NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")}
            )
        msgs = sorted(state.visible_messages(cid), key=lambda m: m.id)
        if "around" in ctx.query:
            around = int(ctx.query["around"])
            older = [m for m in msgs if m.id <= around][-(limit - limit // 2) :]
            newer = [m for m in msgs if m.id > around][: limit // 2]
            picked = older + newer
        elif "after" in ctx.query:
            after = int(ctx.query["after"])
            picked = [m for m in msgs if m.id > after][:limit]
        else:
            before = int(ctx.query.get("before", str(1 << 63)))
            picked = [m for m in msgs if m.id < before][-limit:]
        # Like Discord: a nonce comes back only in the answer to the send (and its gateway
        # event), never when messages are read later.
        return 200, [m.payload(state, with_nonce=False) for m in reversed(picked)]

    async def create_message(self, ctx: Ctx) -> Reply:
        state = self.state
        cid = int(ctx.params["channel_id"])
        body = ctx.body if isinstance(ctx.body, dict) else {}
        check_can_send(state, cid, embeds=bool(body.get("embeds")), files=bool(ctx.attachments))
        existing = find_by_nonce(state, state.bot.id, body, self.config.nonce_window)
        if existing is not None:
            return 200, existing.payload(state)
        message = build_message(state, cid, body, ctx.attachments, author_id=state.bot.id)
        store_message(state, message)
        remember_nonce(state, message, body)
        self.dispatch_message_create(message)
        return 200, message.payload(state)

    def dispatch_message_create(self, message: StoredMessage) -> None:
        session = self.gateway.session_for_guild(message.guild_id)
        if session is None:
            return
        wanted = GUILD_MESSAGES if message.guild_id is not None else DIRECT_MESSAGES
        if session.intents & wanted:
            self.gateway.dispatch("MESSAGE_CREATE", message.payload(self.state))

    def _message(self, ctx: Ctx) -> StoredMessage:
        cid = self._channel(ctx)
        message = self.state.message_index.get(int(ctx.params["message_id"]))
        if message is None or message.deleted or message.channel_id != cid or message.ephemeral:
            raise E.unknown_message()
        return message

    async def get_message(self, ctx: Ctx) -> Reply:
        message = self._message(ctx)
        if not self._can_read_history(message.channel_id):
            raise E.missing_access()  # reading one message needs Read Message History too
        return 200, message.payload(self.state, with_nonce=False)

    async def edit_message(self, ctx: Ctx) -> Reply:
        message = self._message(ctx)
        if message.author_id != self.state.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body = ctx.body if isinstance(ctx.body, dict) else {}
        apply_edit(self.state, message, body, ctx.attachments)
        return 200, message.payload(self.state)

    async def delete_message(self, ctx: Ctx) -> Reply:
        message = self._message(ctx)
        state = self.state
        if message.author_id != state.bot.id and not (
            state.permissions_in(message.channel_id, state.bot.id) & P.MANAGE_MESSAGES
        ):
            raise E.missing_permissions()
        message.deleted = True
        return 204, None

    # ---- threads and forum posts ---------------------------------------------------------

    def _thread_name(self, body: dict[str, Any]) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise E.invalid_form(
                {
                    "name": E.form_error(
                        "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                    )
                }
            )
        return name

    def _dispatch_thread_create(self, thread: FakeChannel) -> None:
        if self.gateway.sessions:
            self.gateway.dispatch(
                "THREAD_CREATE", {**thread.payload(self.state), "newly_created": True}
            )

    async def start_thread(self, ctx: Ctx) -> Reply:
        """A forum post (with its first message; Send Messages on the forum, i.e. Create Posts)
        or a thread without a message in a text channel (Create Public Threads)."""
        state = self.state
        cid = self._channel(ctx)
        channel = state.channels[cid]
        body = ctx.body if isinstance(ctx.body, dict) else {}
        name = self._thread_name(body)
        perms = state.permissions_in(cid, state.bot.id)
        if channel.type == TEXT:
            if not perms & P.CREATE_PUBLIC_THREADS:
                raise E.missing_permissions()
            thread = state.add_thread(cid, name)
            self._dispatch_thread_create(thread)
            return 201, thread.payload(state)
        if channel.type != FORUM:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        first = body.get("message")
        if not isinstance(first, dict):
            raise E.invalid_form(
                {"message": E.form_error("BASE_TYPE_REQUIRED", "This field is required")}
            )
        if not perms & P.SEND_MESSAGES:
            raise E.missing_permissions()
        if first.get("embeds") and not perms & P.EMBED_LINKS:
            raise E.missing_permissions()
        known = {t["id"] for t in channel.available_tags}
        tags = body.get("applied_tags") or []
        if not isinstance(tags, list) or len(tags) > 5 or any(str(t) not in known for t in tags):
            raise E.invalid_form(
                {"applied_tags": E.form_error("UNKNOWN_TAG", "Unknown tag for this forum.")}
            )
        thread_id = state.snowflake()
        # Validate the first message before anything exists; it gets the thread's id.
        placeholder = state.add_thread(cid, name, thread_id=thread_id)
        try:
            message = build_message(
                state, thread_id, first, ctx.attachments, author_id=state.bot.id
            )
        except ApiError:
            del state.channels[thread_id]
            del state.messages[thread_id]
            raise
        placeholder.applied_tags = [int(t) for t in tags]
        message.id = thread_id
        store_message(state, message)
        channel.last_message_id = thread_id
        self._dispatch_thread_create(placeholder)
        self.dispatch_message_create(message)
        return 201, {**placeholder.payload(state), "message": message.payload(state)}

    async def start_thread_from_message(self, ctx: Ctx) -> Reply:
        """A public thread from a message (thread id = message id; Create Public Threads)."""
        state = self.state
        message = self._message(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        name = self._thread_name(body)
        if not state.permissions_in(message.channel_id, state.bot.id) & P.CREATE_PUBLIC_THREADS:
            raise E.missing_permissions()
        if message.thread_id is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = state.add_thread(
            message.channel_id, name, thread_id=message.id, type=PUBLIC_THREAD
        )
        message.thread_id = thread.id
        self._dispatch_thread_create(thread)
        return 201, thread.payload(state)

    async def list_active_threads(self, ctx: Ctx) -> Reply:
        gid = self._guild(ctx)
        threads = [
            t
            for t in self.state.active_threads(gid)
            if self.state.permissions_in(t.id, self.state.bot.id) & P.VIEW_CHANNEL
        ]
        return 200, {"threads": [t.payload(self.state) for t in threads], "members": []}

    async def typing(self, ctx: Ctx) -> Reply:
        self._channel(ctx)
        return 204, None

    # ---- guilds --------------------------------------------------------------------------

    def _guild(self, ctx: Ctx) -> int:
        gid = int(ctx.params["guild_id"])
        guild = self.state.guilds.get(gid)
        if guild is None or self.state.bot.id not in guild.members:
            raise ApiError(404, 10004, "Unknown Guild")
        return gid

    async def get_guild(self, ctx: Ctx) -> Reply:
        gid = self._guild(ctx)
        data = self.state.guild_payload(gid)
        for key in ("members", "channels", "threads", "voice_states", "presences"):
            data.pop(key, None)
        if ctx.query.get("with_counts") in ("true", "1", "True"):
            data["approximate_member_count"] = len(self.state.guilds[gid].members)
            data["approximate_presence_count"] = 0
        return 200, data

    async def get_guild_channels(self, ctx: Ctx) -> Reply:
        gid = self._guild(ctx)
        guild = self.state.guilds[gid]
        return 200, [self.state.channels[c].payload(self.state) for c in guild.channel_ids]

    async def get_guild_roles(self, ctx: Ctx) -> Reply:
        gid = self._guild(ctx)
        return 200, [r.payload() for r in self.state.guilds[gid].roles.values()]

    async def list_members(self, ctx: Ctx) -> Reply:
        gid = self._guild(ctx)
        limit = int(ctx.query.get("limit", "1"))
        after = int(ctx.query.get("after", "0"))
        ids = sorted(u for u in self.state.guilds[gid].members if u > after)[:limit]
        return 200, [self.state.member_payload(gid, u) for u in ids]

    async def get_member(self, ctx: Ctx) -> Reply:
        gid = self._guild(ctx)
        uid = int(ctx.params["user_id"])
        if uid not in self.state.guilds[gid].members:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, self.state.member_payload(gid, uid)

    # ---- interactions and webhooks -------------------------------------------------------------

    async def interaction_callback(self, ctx: Ctx) -> Reply:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        with_response = ctx.query.get("with_response") in ("1", "true", "True")
        result = self.interactions.callback(
            int(ctx.params["interaction_id"]),
            ctx.params["token"],
            body,
            ctx.attachments,
            with_response,
        )
        if result is None:
            return 204, None
        return 200, result

    async def list_channel_webhooks(self, ctx: Ctx) -> Reply:
        cid = int(ctx.params["channel_id"])
        return 200, [w.payload(self.state) for w in self.webhooks.list(cid)]

    async def create_channel_webhook(self, ctx: Ctx) -> Reply:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        webhook = self.webhooks.create(int(ctx.params["channel_id"]), body)
        return 200, webhook.payload(self.state)

    async def get_webhook(self, ctx: Ctx) -> Reply:
        return 200, self.webhooks.get(int(ctx.params["webhook_id"])).payload(self.state)

    async def delete_webhook(self, ctx: Ctx) -> Reply:
        self.webhooks.delete(int(ctx.params["webhook_id"]))
        return 204, None

    async def delete_webhook_with_token(self, ctx: Ctx) -> Reply:
        self.webhooks.delete(int(ctx.params["app_id"]), ctx.params["token"])
        return 204, None

    async def webhook_execute(self, ctx: Ctx) -> Reply:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        hook_id = int(ctx.params["app_id"])
        if hook_id in self.webhooks.by_id:  # a channel webhook, not an interaction's follow-up
            message = self.webhooks.execute(
                hook_id, ctx.params["token"], body, ctx.attachments, ctx.query
            )
            self.dispatch_message_create(message)
        else:
            message = self.interactions.followup(
                hook_id, ctx.params["token"], body, ctx.attachments
            )
        if ctx.query.get("wait") in ("1", "true", "True"):
            return 200, message.payload(self.state)
        return 204, None

    async def webhook_get_message(self, ctx: Ctx) -> Reply:
        message = self.interactions.get_message(
            int(ctx.params["app_id"]), ctx.params["token"], ctx.params["message_id"]
        )
        return 200, message.payload(self.state)

    async def webhook_edit_message(self, ctx: Ctx) -> Reply:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        message = self.interactions.edit_message(
            int(ctx.params["app_id"]),
            ctx.params["token"],
            ctx.params["message_id"],
            body,
            ctx.attachments,
        )
        return 200, message.payload(self.state)

    async def webhook_delete_message(self, ctx: Ctx) -> Reply:
        self.interactions.delete_message(
            int(ctx.params["app_id"]), ctx.params["token"], ctx.params["message_id"]
        )
        return 204, None
