"""Webhook identities: which subscriptions post under the feed's own name and avatar, and the
one webhook the bot made per channel (its token is a secret, never logged or shown)."""

from __future__ import annotations

from bot.model import ChannelWebhook, Identity
from bot.store.db import Table


class WebhookStore(Table):
    async def identity(self, subscription_id: int) -> Identity | None:
        """The subscription's webhook identity (None: it posts as the bot)."""
        return await self._one(
            Identity,
            "SELECT name, avatar_url FROM subscription_identities WHERE subscription_id = ?",
            (subscription_id,),
        )

    async def set_identity(
        self, subscription_id: int, identity: Identity | None, now: float
    ) -> None:
        """Post through the channel's webhook as `identity`, or (None) as the bot again."""
        if identity is None:
            await self._db.write(
                "DELETE FROM subscription_identities WHERE subscription_id = ?",
                (subscription_id,),
            )
            return
        await self._db.write(
            "INSERT INTO subscription_identities (subscription_id, name, avatar_url, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (subscription_id) DO UPDATE SET "
            "name = excluded.name, avatar_url = excluded.avatar_url, "
            "updated_at = excluded.updated_at",
            (subscription_id, identity.name, identity.avatar_url, now),
        )

    async def channel_webhook(self, channel_id: int) -> ChannelWebhook | None:
        return await self._one(
            ChannelWebhook,
            "SELECT channel_id, webhook_id, token FROM channel_webhooks WHERE channel_id = ?",
            (channel_id,),
        )

    async def save_webhook(self, webhook: ChannelWebhook, now: float) -> None:
        await self._db.write(
            "INSERT INTO channel_webhooks (channel_id, webhook_id, token, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET "
            "webhook_id = excluded.webhook_id, token = excluded.token, "
            "created_at = excluded.created_at",
            (webhook.channel_id, webhook.webhook_id, webhook.token, now),
        )

    async def forget_webhook(self, channel_id: int, webhook_id: int) -> None:
        """Drop a webhook Discord no longer knows (only if it is still the channel's one)."""
        await self._db.write(
            "DELETE FROM channel_webhooks WHERE channel_id = ? AND webhook_id = ?",
            (channel_id, webhook_id),
        )
