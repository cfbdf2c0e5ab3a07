"""Creating and editing messages with Discord's checks, shared by channel sends, DMs,
interaction responses and webhook follow-ups."""

from __future__ import annotations

import copy
from typing import Any

from . import errors as E
from . import permissions as P
from .errors import ApiError
from .limits import compute_pings, validate_message
from .state import DM, EPHEMERAL, FORUM, Attachment, FakeState, Pinged, StoredMessage

SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
INTERACTION_FLAGS = SENDABLE_FLAGS | EPHEMERAL


def check_can_send(
    state: FakeState, channel_id: int, *, embeds: bool, files: bool, author_id: int | None = None
) -> None:
    """Raise what Discord answers when the author may not post this in the channel."""
    channel = state.channels.get(channel_id)
    if channel is None:
        raise E.unknown_channel()
    author = state.bot.id if author_id is None else author_id
    if channel.type == DM:
        recipient = state.users.get(channel.recipient_id or 0)
        if recipient is None or not recipient.dms_open or recipient.bot:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        return
    perms = state.permissions_in(channel_id, author)
    if not perms & P.VIEW_CHANNEL:
        raise E.missing_access()
    if channel.type == FORUM:
        # A forum takes posts (POST /channels/{forum}/threads), not messages.
        raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
    # In a thread Discord checks Send Messages in Threads (on the parent) instead.
    needed = P.SEND_MESSAGES_IN_THREADS if channel.is_thread else P.SEND_MESSAGES
    if not perms & needed:
        raise E.missing_permissions()
    if embeds and not perms & P.EMBED_LINKS:
        raise E.missing_permissions()
    if files and not perms & P.ATTACH_FILES:
        raise E.missing_permissions()


def pings_for(state: FakeState, channel_id: int, author_id: int, payload: dict[str, Any]) -> Pinged:
    content = payload.get("content") or ""
    if not isinstance(content, str):
        return Pinged()
    channel = state.channels[channel_id]
    allowed = payload.get("allowed_mentions")
    if channel.guild_id is None:
        return compute_pings(
            content,
            allowed,
            guild_role_ids=(),
            mentionable_role_ids=(),
            can_mention_everyone=False,
        )
    guild = state.guilds[channel.guild_id]
    perms = state.permissions_in(channel_id, author_id)
    return compute_pings(
        content,
        allowed,
        guild_role_ids=[r for r in guild.roles if r != guild.id],
        mentionable_role_ids=[r.id for r in guild.roles.values() if r.mentionable],
        can_mention_everyone=bool(perms & P.MENTION_EVERYONE),
    )


def build_message(
    state: FakeState,
    channel_id: int,
    payload: dict[str, Any],
    attachments: list[Attachment],
    *,
    author_id: int,
    allowed_flags: int = SENDABLE_FLAGS,
    interaction_id: int | None = None,
    webhook_id: int | None = None,
) -> StoredMessage:
    """Validate a create-message body and build (not store) the message."""
    validate_message(payload, has_files=bool(attachments))
    flags = payload.get("flags") or 0
    if not isinstance(flags, int) or flags & ~allowed_flags:
        raise E.invalid_form({"flags": E.form_error("MESSAGE_FLAGS_INVALID", "Invalid flags")})
    channel = state.channels[channel_id]
    now = state.clock.wall()
    return StoredMessage(
        id=state.snowflake(),
        channel_id=channel_id,
        guild_id=channel.guild_id,
        author_id=author_id,
        content=payload.get("content") or "",
        embeds=list(payload.get("embeds") or []),
        components=list(payload.get("components") or []),
        flags=flags,
        nonce=payload.get("nonce"),
        allowed_mentions=payload.get("allowed_mentions"),
        pinged=pings_for(state, channel_id, author_id, payload),
        attachments=attachments,
        created_at=now,
        created_mono=state.clock.monotonic(),
        tts=bool(payload.get("tts")),
        interaction_id=interaction_id,
        webhook_id=webhook_id,
        message_reference=payload.get("message_reference"),
    )


def store_message(state: FakeState, message: StoredMessage) -> None:
    state.messages.setdefault(message.channel_id, []).append(message)
    state.message_index[message.id] = message
    state.channels[message.channel_id].last_message_id = message.id


def find_by_nonce(
    state: FakeState, author_id: int, payload: dict[str, Any], window: float
) -> StoredMessage | None:
    nonce = payload.get("nonce")
    if nonce is None or not payload.get("enforce_nonce"):
        return None
    hit = state.nonces.get((author_id, str(nonce)))
    if hit is None:
        return None
    at, message = hit
    if state.clock.monotonic() - at > window:
        return None
    return message


def remember_nonce(state: FakeState, message: StoredMessage, payload: dict[str, Any]) -> None:
    if message.nonce is not None and payload.get("enforce_nonce"):
        state.nonces[(message.author_id, str(message.nonce))] = (state.clock.monotonic(), message)


def apply_edit(
    state: FakeState,
    message: StoredMessage,
    payload: dict[str, Any],
    attachments: list[Attachment],
) -> None:
    """Apply a PATCH body: only the keys present change (``null`` clears)."""
    validate_message(payload, has_files=bool(attachments), edit=True)
    original = message
    message = copy.copy(original)
    if "content" in payload:
        message.content = payload["content"] or ""
    if "embeds" in payload:
        message.embeds = list(payload["embeds"] or [])
    if "components" in payload:
        message.components = list(payload["components"] or [])
    if "flags" in payload and isinstance(payload["flags"], int):
        keep = message.flags & EPHEMERAL
        message.flags = (payload["flags"] & SENDABLE_FLAGS) | keep
    if "allowed_mentions" in payload:
        message.allowed_mentions = payload["allowed_mentions"]
    if "attachments" in payload or attachments:
        kept_ids = {
            int(a["id"])
            for a in payload.get("attachments") or []
            if isinstance(a, dict) and str(a.get("id", "")).isdigit()
        }
        message.attachments = [a for a in message.attachments if a.id in kept_ids] + attachments
    empty = (
        not message.content.strip()
        and not message.embeds
        and not message.attachments
        and not message.components
    )
    if empty:
        raise ApiError(400, 50006, "Cannot send an empty message")
    message.edited_at = state.clock.wall()
    message.edits += 1
    original.__dict__.update(message.__dict__)
