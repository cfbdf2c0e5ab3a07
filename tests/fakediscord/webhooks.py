"""Channel webhooks in the fake: create, list, get, delete and execute, with Discord's rules.

- Creating and listing a channel's webhooks needs Manage Webhooks (403/50013 without it);
  a webhook's name (1–80 characters) may not contain "discord" or "clyde" (400/50035).
- Executing (``POST /webhooks/{id}/{token}``) needs no bot token and no channel permission;
  ``?wait=true`` returns the message, otherwise 204; ``?thread_id=`` posts into a thread of
  the webhook's channel. ``username`` follows the name rules; ``avatar_url`` must be http(s).
  A deleted webhook (or a wrong token) answers 404/10015 Unknown Webhook. Execute takes no
  nonce: a repeat is a second message.
- Messages it made carry ``webhook_id`` and an author with the webhook's id and the given
  username (else the webhook's own name).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from . import errors as E
from . import permissions as P
from .errors import ApiError
from .messages import build_message, store_message
from .state import Attachment, FakeState, FakeUser, StoredMessage

NAME_MAX = 80
REFUSED_IN_NAMES = ("discord", "clyde")


@dataclass
class FakeWebhook:
    id: int
    token: str
    channel_id: int
    guild_id: int | None
    name: str
    creator_id: int
    deleted: bool = False

    def payload(self, state: FakeState, *, with_token: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 1,
            "guild_id": None if self.guild_id is None else str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": None,
            "application_id": str(state.application_id),
            "user": state.users[self.creator_id].payload(),
        }
        if with_token:
            data["token"] = self.token
        return data


def unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def check_name(field: str, name: object) -> str:
    """Discord's rules for a webhook's name and an execute's username (400/50035)."""
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
        raise E.invalid_form(
            {field: E.form_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")}
        )
    lowered = name.lower()
    for word in REFUSED_IN_NAMES:
        if word in lowered:
            raise E.invalid_form(
                {
                    field: E.form_error(
                        "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"'
                    )
                }
            )
    return name


class Webhooks:
    """The webhooks of every channel, keyed by id."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.by_id: dict[int, FakeWebhook] = {}

    def of_channel(self, channel_id: int) -> list[FakeWebhook]:
        return [w for w in self.by_id.values() if w.channel_id == channel_id and not w.deleted]

    def _manage(self, channel_id: int) -> None:
        state = self.state
        channel = state.channels.get(channel_id)
        if channel is None:
            raise E.unknown_channel()
        perms = state.permissions_in(channel_id, state.bot.id)
        if not perms & P.VIEW_CHANNEL:
            raise E.missing_access()
        if not perms & P.MANAGE_WEBHOOKS:
            raise E.missing_permissions()

    def create(self, channel_id: int, body: dict[str, Any]) -> FakeWebhook:
        self._manage(channel_id)
        name = check_name("name", body.get("name"))
        webhook_id = self.state.snowflake()
        # The webhook's messages are authored by a user with the webhook's id.
        self.state.users[webhook_id] = FakeUser(webhook_id, name, bot=True)
        webhook = FakeWebhook(
            webhook_id,
            secrets.token_urlsafe(48),
            channel_id,
            self.state.channels[channel_id].guild_id,
            name,
            self.state.bot.id,
        )
        self.by_id[webhook_id] = webhook
        return webhook

    def list(self, channel_id: int) -> list[FakeWebhook]:
        self._manage(channel_id)
        return self.of_channel(channel_id)

    def get(self, webhook_id: int, token: str | None = None) -> FakeWebhook:
        webhook = self.by_id.get(webhook_id)
        if webhook is None or webhook.deleted or (token is not None and token != webhook.token):
            raise unknown_webhook()
        if token is None:
            self._manage(webhook.channel_id)
        return webhook

    def delete(self, webhook_id: int, token: str | None = None) -> None:
        self.get(webhook_id, token).deleted = True

    def execute(
        self,
        webhook_id: int,
        token: str,
        body: dict[str, Any],
        attachments: list[Attachment],
        query: dict[str, str],
    ) -> StoredMessage:
        webhook = self.get(webhook_id, token)
        state = self.state
        channel_id = webhook.channel_id
        if webhook.channel_id not in state.channels:
            raise unknown_webhook()
        if "thread_id" in query:
            thread = state.channels.get(int(query["thread_id"]))
            if thread is None or thread.parent_id != webhook.channel_id:
                raise E.unknown_channel()
            channel_id = thread.id
        username = body.get("username")
        if username is not None:
            check_name("username", username)
        avatar_url = body.get("avatar_url")
        if avatar_url is not None and not (
            isinstance(avatar_url, str) and avatar_url.startswith(("http://", "https://"))
        ):
            raise E.invalid_form(
                {"avatar_url": E.form_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")}
            )
        payload = {k: v for k, v in body.items() if k != "nonce"}  # execute keeps no nonce
        message = build_message(
            state, channel_id, payload, attachments, author_id=webhook.id, webhook_id=webhook.id
        )
        message.nonce = None
        message.webhook_username = username if isinstance(username, str) else webhook.name
        message.webhook_avatar_url = avatar_url if isinstance(avatar_url, str) else None
        store_message(state, message)
        return message
