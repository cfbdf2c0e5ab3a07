"""Interactions: building INTERACTION_CREATE payloads like Discord's, and the bot's
answers to them (callback, follow-ups, edits of the original response).

Tests get an :class:`InteractionHandle` from ``fake.invoke_command`` /
``invoke_component`` / ``invoke_autocomplete`` and await what the bot answered.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors as E
from .errors import ApiError
from .messages import INTERACTION_FLAGS, apply_edit, build_message, store_message
from .state import DM, EPHEMERAL, LOADING, Attachment, FakeState, StoredMessage

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
# callback types
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)


@dataclass(frozen=True)
class UserOpt:
    """Mark an option value as a user id when the command was not synced (type unknown)."""

    id: int


@dataclass(frozen=True)
class ChannelOpt:
    id: int


@dataclass(frozen=True)
class RoleOpt:
    id: int


@dataclass(frozen=True)
class AttachmentOpt:
    """A file the member attaches to a command option; served by the fake's own CDN route."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class InteractionRecord:
    """Everything the fake knows about one interaction and the bot's answers to it."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    created_mono: float
    payload: dict[str, Any]
    callback_type: int | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original: StoredMessage | None = None
    followups: list[StoredMessage] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    target_message_id: int | None = None
    errors: list[ApiError] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None


class InteractionHandle:
    """What a test holds after invoking: await the bot's answer with a timeout."""

    def __init__(
        self,
        record: InteractionRecord,
        wait_until: Callable[[Callable[[], bool], float], Awaitable[None]],
    ) -> None:
        self.record = record
        self._wait_until = wait_until

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def token(self) -> str:
        return self.record.token

    @property
    def messages(self) -> list[StoredMessage]:
        """The original response (if any) followed by the follow-ups, latest versions."""
        first = [self.record.original] if self.record.original is not None else []
        return first + list(self.record.followups)

    @property
    def errors(self) -> list[ApiError]:
        """Errors the fake answered the bot for this interaction (e.g. 10062 too late)."""
        return list(self.record.errors)

    async def response_type(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109 (bounded wait)
        """Wait for the initial callback and return its type (4, 5, 6, 7, 8, 9)."""
        await self._wait_until(lambda: self.record.callback_type is not None, timeout)
        assert self.record.callback_type is not None
        return self.record.callback_type

    async def final_message(self, timeout: float = 5.0) -> StoredMessage:  # noqa: ASYNC109 (bounded wait)
        """Wait until the answer is visible (not a "thinking…" placeholder) and return it.

        For a command this is the original response: the callback-4 message, or after a
        defer (5) the edit of @original or the first follow-up (which replaces the
        placeholder, as on Discord). For a component answered with 7 or 6 + edit, it is
        the edited message that held the component.
        """

        def ready() -> bool:
            msg = self._answer()
            return msg is not None and not msg.loading

        await self._wait_until(ready, timeout)
        msg = self._answer()
        assert msg is not None
        return msg

    async def followup(self, index: int = 0, timeout: float = 5.0) -> StoredMessage:  # noqa: ASYNC109 (bounded wait)
        """Wait for the ``index``-th follow-up that did not replace a placeholder."""
        await self._wait_until(lambda: len(self.record.followups) > index, timeout)
        return self.record.followups[index]

    async def choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109 (bounded wait)
        """Autocomplete: wait for the callback-8 and return its choices."""
        await self._wait_until(lambda: self.record.choices is not None, timeout)
        assert self.record.choices is not None
        return self.record.choices

    async def modal(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109 (bounded wait)
        await self._wait_until(lambda: self.record.modal is not None, timeout)
        assert self.record.modal is not None
        return self.record.modal

    async def wait_for(
        self,
        predicate: Callable[[InteractionHandle], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 (bounded wait)
    ) -> None:
        await self._wait_until(lambda: predicate(self), timeout)

    def _answer(self) -> StoredMessage | None:
        if self.record.original is not None:
            return self.record.original
        return None


class InteractionRegistry:
    """Creates interactions and applies the bot's callback/webhook requests to them."""

    def __init__(self, state: FakeState, *, deadline: float = 3.0) -> None:
        self.state = state
        self.deadline = deadline
        self.records: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self.uploads: dict[int, AttachmentOpt] = {}  # served at /cdn/attachments/{id}/{name}
        self.cdn_base = "http://127.0.0.1/cdn"  # set by the server once it has a port

    # ---- building payloads ----------------------------------------------------------------

    def find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        if guild_id is not None:
            for cmd in self.state.guild_commands.get(guild_id, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        for cmd in self.state.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd
        return None

    def new_record(
        self,
        type: int,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        data: dict[str, Any] | None,
        locale: str,
        message: StoredMessage | None = None,
    ) -> InteractionRecord:
        state = self.state
        if channel_id not in state.channels:
            raise ValueError(f"unknown channel {channel_id}")
        if user_id not in state.users:
            raise ValueError(f"unknown user {user_id}")
        iid = state.snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        channel = state.channels[channel_id]
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(state.application_id),
            "type": type,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": str(state.permissions_in(channel_id, state.bot.id)),
        }
        if data is not None:
            payload["data"] = data
        channel_payload = channel.payload(state)
        if guild_id is not None:
            if user_id not in state.guilds[guild_id].members:
                raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
            guild = state.guilds[guild_id]
            perms = state.permissions_in(channel_id, user_id)
            channel_payload["permissions"] = str(perms)
            payload.update(
                guild_id=str(guild_id),
                guild_locale=guild.preferred_locale,
                guild={"id": str(guild_id), "locale": guild.preferred_locale, "features": []},
                member=state.member_payload(guild_id, user_id, permissions=perms),
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
            )
        else:
            payload.update(
                user=state.users[user_id].payload(),
                context=1 if channel.type == DM else 2,
                authorizing_integration_owners={"0": str(user_id)},
            )
        payload["channel"] = channel_payload
        payload["channel_id"] = str(channel_id)
        if message is not None:
            payload["message"] = message.payload(state)
        record = InteractionRecord(
            id=iid,
            token=token,
            type=type,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            created_mono=state.clock.monotonic(),
            payload=payload,
            target_message_id=message.id if message is not None else None,
        )
        self.records[iid] = record
        self._by_token[token] = record
        return record

    def command_data(
        self,
        path: list[str],
        options: dict[str, Any],
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        focused: str | None = None,
    ) -> dict[str, Any]:
        """``data`` of an application-command interaction, options nested per path."""
        command = self.find_command(path[0], guild_id)
        resolved: dict[str, dict[str, Any]] = {}
        defs: list[dict[str, Any]] | None = command.get("options", []) if command else None
        nests: list[tuple[str, int]] = []
        for part in path[1:]:
            kind = SUB_COMMAND
            if defs is not None:
                found = next((o for o in defs if o["name"] == part), None)
                if found is None:
                    raise ValueError(f"no subcommand {part!r} in synced command {path[0]!r}")
                kind = found["type"]
                defs = found.get("options", [])
            elif len(path) == 3 and part == path[1]:
                kind = SUB_COMMAND_GROUP
            nests.append((part, kind))
        leaf: list[dict[str, Any]] = []
        for name, value in options.items():
            opt_def = next((o for o in defs or [] if o["name"] == name), None)
            if defs is not None and opt_def is None:
                raise ValueError(f"option {name!r} is not defined on /{' '.join(path)}")
            opt_type = opt_def["type"] if opt_def else _infer_type(value)
            raw = value.id if isinstance(value, UserOpt | ChannelOpt | RoleOpt) else value
            if isinstance(value, AttachmentOpt):
                opt_type, raw = ATTACHMENT, value
            option: dict[str, Any] = {"name": name, "type": opt_type}
            if name == focused:
                option["value"] = str(raw)
                option["focused"] = True
            else:
                option["value"] = self._option_value(opt_type, raw, resolved, guild_id, user_id)
            leaf.append(option)
        nested: list[dict[str, Any]] = leaf
        for part, kind in reversed(nests):
            nested = [{"name": part, "type": kind, "options": nested}]
        data: dict[str, Any] = {
            "id": str(command["id"]) if command else str(self.state.snowflake()),
            "name": path[0],
            "type": 1,
            "options": nested,
        }
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    def _option_value(
        self,
        opt_type: int,
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild_id: int | None,
        user_id: int,
    ) -> Any:
        state = self.state
        if opt_type in (USER, MENTIONABLE) and int(value) in state.users:
            uid = int(value)
            resolved.setdefault("users", {})[str(uid)] = state.users[uid].payload()
            if guild_id is not None and uid in state.guilds[guild_id].members:
                member = state.member_payload(
                    guild_id, uid, permissions=state.guild_permissions(guild_id, uid)
                )
                member.pop("user")
                resolved.setdefault("members", {})[str(uid)] = member
            return str(uid)
        if opt_type in (ROLE, MENTIONABLE) and guild_id is not None:
            role = state.guilds[guild_id].roles.get(int(value))
            if role is None:
                raise ValueError(f"unknown role {value}")
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            return str(role.id)
        if opt_type == ATTACHMENT and isinstance(value, AttachmentOpt):
            attachment_id = state.snowflake()
            self.uploads[attachment_id] = value
            url = f"{self.cdn_base}/attachments/{attachment_id}/{value.filename}"
            resolved.setdefault("attachments", {})[str(attachment_id)] = {
                "id": str(attachment_id),
                "filename": value.filename,
                "size": len(value.data),
                "url": url,
                "proxy_url": url,
                "content_type": value.content_type,
            }
            return str(attachment_id)
        if opt_type == CHANNEL:
            channel = state.channels.get(int(value))
            if channel is None:
                raise ValueError(f"unknown channel {value}")
            partial = {
                "id": str(channel.id),
                "name": channel.name,
                "type": channel.type,
                "permissions": str(state.permissions_in(channel.id, user_id)),
                "parent_id": None if channel.parent_id is None else str(channel.parent_id),
                "flags": 0,
            }
            if channel.guild_id is not None:
                partial["guild_id"] = str(channel.guild_id)
            if channel.is_thread:  # Discord resolves a thread with its thread fields
                partial = channel.payload(state) | partial
            resolved.setdefault("channels", {})[str(channel.id)] = partial
            return str(channel.id)
        if opt_type == INTEGER:
            return int(value)
        if opt_type == NUMBER:
            return float(value)
        if opt_type == BOOLEAN:
            return bool(value)
        return value

    # ---- the bot's answers ----------------------------------------------------------------

    def _record_by_token(self, token: str, *, webhook: bool) -> InteractionRecord:
        record = self._by_token.get(token)
        if record is None:
            raise ApiError(
                404,
                10015 if webhook else 10062,
                "Unknown Webhook" if webhook else "Unknown interaction",
            )
        return record

    def callback(
        self,
        interaction_id: int,
        token: str,
        body: dict[str, Any],
        attachments: list[Attachment],
        with_response: bool,
    ) -> dict[str, Any] | None:
        record = self.records.get(interaction_id)
        if record is None or record.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        try:
            return self._callback(record, body, attachments, with_response)
        except ApiError as exc:
            record.errors.append(exc)
            raise

    def _callback(
        self,
        record: InteractionRecord,
        body: dict[str, Any],
        attachments: list[Attachment],
        with_response: bool,
    ) -> dict[str, Any] | None:
        if record.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if self.state.clock.monotonic() - record.created_mono > self.deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        ctype = body.get("type")
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise E.invalid_form({"data": E.form_error("DICT_TYPE_CONVERT", "Only dictionaries")})
        state = self.state
        message: StoredMessage | None = None
        if ctype == CHANNEL_MESSAGE:
            message = self._new_response_message(record, data, attachments)
            record.original = message
        elif ctype == DEFERRED_CHANNEL_MESSAGE:
            flags = (data.get("flags") or 0) & EPHEMERAL
            message = StoredMessage(
                id=state.snowflake(),
                channel_id=record.channel_id,
                guild_id=record.guild_id,
                author_id=state.bot.id,
                flags=flags | LOADING,
                created_at=state.clock.wall(),
                created_mono=state.clock.monotonic(),
                interaction_id=record.id,
                webhook_id=state.application_id,
            )
            record.original = message
            if not message.ephemeral:
                store_message(state, message)
            else:  # an ephemeral answer is not in the channel, but its buttons can be clicked
                state.message_index[message.id] = message
        elif ctype in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            if (
                record.type not in (MESSAGE_COMPONENT, MODAL_SUBMIT)
                or record.target_message_id is None
            ):
                raise ApiError(
                    400, 40004, "Interaction callback type not allowed for this interaction"
                )
            message = self._target_message(record)
            if ctype == UPDATE_MESSAGE:
                apply_edit(state, message, data, attachments)
            record.original = message
        elif ctype == AUTOCOMPLETE_RESULT:
            if record.type != AUTOCOMPLETE:
                raise ApiError(
                    400, 40004, "Interaction callback type not allowed for this interaction"
                )
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                raise E.invalid_form(
                    {
                        "data": {
                            "choices": E.form_error(
                                "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                            )
                        }
                    }
                )
            record.choices = choices
        elif ctype == MODAL:
            record.modal = data
        else:
            raise E.invalid_form(
                {"type": E.form_error("ENUM_TYPE_COERCE", "Invalid callback type")}
            )
        record.callback_type = int(ctype)
        record.callbacks.append(body)
        if not with_response:
            return None
        interaction: dict[str, Any] = {"id": str(record.id), "type": record.type}
        response: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = message.loading
            interaction["response_message_ephemeral"] = message.ephemeral
            response["resource"] = {"type": ctype, "message": message.payload(state)}
        else:
            response["resource"] = {"type": ctype}
        return response

    def _new_response_message(
        self, record: InteractionRecord, data: dict[str, Any], attachments: list[Attachment]
    ) -> StoredMessage:
        message = build_message(
            self.state,
            record.channel_id,
            data,
            attachments,
            author_id=self.state.bot.id,
            allowed_flags=INTERACTION_FLAGS,
            interaction_id=record.id,
            webhook_id=self.state.application_id,
        )
        if not message.ephemeral:
            store_message(self.state, message)
        else:
            self.state.message_index[message.id] = message
        return message

    def _target_message(self, record: InteractionRecord) -> StoredMessage:
        assert record.target_message_id is not None
        message = self.state.message_index.get(record.target_message_id)
        if message is None:
            raise E.unknown_message()
        return message

    def followup(
        self, app_id: int, token: str, body: dict[str, Any], attachments: list[Attachment]
    ) -> StoredMessage:
        record = self._record_by_token(token, webhook=True)
        try:
            self._check_app(app_id)
            if not record.acknowledged:
                raise ApiError(404, 10015, "Unknown Webhook")
            original = record.original
            if (
                original is not None
                and original.loading
                and record.callback_type == DEFERRED_CHANNEL_MESSAGE
            ):
                # The first follow-up after a defer replaces the "thinking…" placeholder.
                body = dict(body)
                body.pop("flags", None)
                apply_edit(self.state, original, body, attachments)
                original.flags &= ~LOADING
                return original
            message = self._new_response_message(record, body, attachments)
            record.followups.append(message)
            return message
        except ApiError as exc:
            record.errors.append(exc)
            raise

    def _message_for(self, record: InteractionRecord, message_id: str) -> StoredMessage:
        if message_id == "@original":
            if record.original is None:
                raise E.unknown_message()
            return record.original
        for msg in record.followups:
            if str(msg.id) == message_id:
                return msg
        if record.original is not None and str(record.original.id) == message_id:
            return record.original
        raise E.unknown_message()

    def get_message(self, app_id: int, token: str, message_id: str) -> StoredMessage:
        self._check_app(app_id)
        return self._message_for(self._record_by_token(token, webhook=True), message_id)

    def edit_message(
        self,
        app_id: int,
        token: str,
        message_id: str,
        body: dict[str, Any],
        attachments: list[Attachment],
    ) -> StoredMessage:
        record = self._record_by_token(token, webhook=True)
        try:
            self._check_app(app_id)
            message = self._message_for(record, message_id)
            apply_edit(self.state, message, body, attachments)
            message.flags &= ~LOADING
            return message
        except ApiError as exc:
            record.errors.append(exc)
            raise

    def delete_message(self, app_id: int, token: str, message_id: str) -> None:
        self._check_app(app_id)
        message = self._message_for(self._record_by_token(token, webhook=True), message_id)
        message.deleted = True

    def _check_app(self, app_id: int) -> None:
        if app_id != self.state.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")


def _infer_type(value: Any) -> int:
    if isinstance(value, AttachmentOpt):
        return ATTACHMENT
    if isinstance(value, UserOpt):
        return USER
    if isinstance(value, ChannelOpt):
        return CHANNEL
    if isinstance(value, RoleOpt):
        return ROLE
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    return STRING
