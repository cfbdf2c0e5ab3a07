"""Posting under a feed's own name and avatar: through the one webhook the bot makes in a
channel (with Manage Webhooks there; without it the channel is paused like a lost one, and the
outbox tells the admins).

The webhook's id and token are kept in the store (the token is a secret: never logged or
shown). One Discord no longer knows (an admin deleted it: 404/10015) is made again, once per
send. Webhook executes carry no nonce: `?wait=true` returns the message id to mark the delivery
sent, and a maybe-sent one is looked for among the webhook's messages (find_existing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import discord

from bot.delivery.discord_sender import call_discord
from bot.delivery.senders import PermanentSendError
from bot.model import ChannelWebhook, Identity
from bot.store.webhooks import WebhookStore

log = logging.getLogger(__name__)

UNKNOWN_WEBHOOK = 10015
#: The webhook's own name in the server's settings (each post shows the feed's name instead).
WEBHOOK_NAME = "digestbot feeds"
NO_MANAGE_WEBHOOKS = (
    "Missing Permissions: I need Manage Webhooks there to post under the feed's own name "
    "(grant it, or run `/feed identity mode:bot`)"
)
GONE_AGAIN = "the channel's webhook was deleted again right after I made it; not sent"


class _WebhookGone(Exception):
    """Discord answered 404/10015: the stored webhook no longer exists."""


class WebhookPoster:
    def __init__(
        self, client: discord.Client, book: WebhookStore, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._book = book
        self._clock = clock

    async def webhook_id(self, channel_id: int) -> int | None:
        """The id of the channel's webhook as far as the store knows (None: none yet)."""
        known = await self._book.channel_webhook(channel_id)
        return None if known is None else known.webhook_id

    async def send(self, channel_id: int, identity: Identity, kwargs: dict[str, Any]) -> int:
        """Execute the channel's webhook (made first if there is none) with `wait=true`; the
        posted message's id. A deleted webhook is made again once."""
        known = await self._book.channel_webhook(channel_id) or await self._create(channel_id)
        try:
            return await self._post_through(known, identity, kwargs)
        except _WebhookGone:
            log.info("channel %d: my webhook was deleted; making a new one", channel_id)
            await self._book.forget_webhook(channel_id, known.webhook_id)
        fresh = await self._create(channel_id)
        try:
            return await self._post_through(fresh, identity, kwargs)
        except _WebhookGone:
            await self._book.forget_webhook(channel_id, fresh.webhook_id)
            raise PermanentSendError(GONE_AGAIN, target_unreachable=False) from None

    async def _create(self, channel_id: int) -> ChannelWebhook:
        """Reuse a webhook of mine the store does not know (a crash right after making it, a
        restored backup), else make one; either way remember it."""
        http = self._client.http
        try:
            listed = await call_discord(lambda: http.channel_webhooks(channel_id))
            found = self._mine(channel_id, [dict(data) for data in listed])
            if found is None:
                made = await call_discord(
                    lambda: http.create_webhook(channel_id, name=WEBHOOK_NAME)
                )
                found = ChannelWebhook(channel_id, int(made["id"]), str(made.get("token")))
                log.info("channel %d: made webhook %d", channel_id, found.webhook_id)
        except PermanentSendError as error:
            if error.__cause__ is not None and getattr(error.__cause__, "code", None) == 50013:
                raise PermanentSendError(NO_MANAGE_WEBHOOKS) from error
            raise
        await self._book.save_webhook(found, self._clock())
        return found

    def _mine(self, channel_id: int, listed: list[dict[str, Any]]) -> ChannelWebhook | None:
        """The channel's webhook this bot made (with its token), if Discord lists one."""
        me = self._client.user
        if me is None:
            return None
        for data in listed:
            maker = str((data.get("user") or {}).get("id"))
            token = data.get("token")
            if maker == str(me.id) and token and data.get("name") == WEBHOOK_NAME:
                return ChannelWebhook(channel_id, int(data["id"]), str(token))
        return None

    async def _post_through(
        self, known: ChannelWebhook, identity: Identity, kwargs: dict[str, Any]
    ) -> int:
        webhook = discord.Webhook.partial(known.webhook_id, known.token, client=self._client)

        async def post() -> discord.WebhookMessage:
            try:
                # discord.py leaves out an empty name or avatar (the webhook's own is shown).
                return await webhook.send(
                    wait=True,
                    username=identity.name or discord.utils.MISSING,
                    avatar_url=identity.avatar_url,
                    **kwargs,
                )
            except discord.NotFound as error:
                if error.code == UNKNOWN_WEBHOOK:
                    raise _WebhookGone from error
                raise

        return (await call_discord(post)).id
