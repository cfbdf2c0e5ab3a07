"""What `/why` reads: an archived item by its URL or title, and for each channel that follows
its feed the subscription and the deliveries that carried (or will carry) the item there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import DeliveryRow, ItemRow, SubscriptionRow
from bot.store.db import Table, like_pattern, marks
from bot.store.deliveries import _SELECT as _DELIVERY_SELECT
from bot.store.deliveries import _delivery
from bot.store.items import _SELECT as _ITEM_SELECT
from bot.store.routing import payload_of
from bot.store.subscriptions import _COLUMNS as _SUBSCRIPTION_COLUMNS
from bot.store.subscriptions import _ROW_WIDTH, _row


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """One channel following an item's feed, with what the bot did about the item there."""

    subscription: SubscriptionRow
    digest_since: float | None  # when it began collecting for the digest (digest mode only)
    post: DeliveryRow | None  # the item's own post to the channel, if one was ever queued
    digest: DeliveryRow | None  # the latest digest of the channel that lists the item


class WhyStore(Table):
    async def items_by_url(
        self, urls: Sequence[str], feed_ids: Sequence[int] | None
    ) -> list[ItemRow]:
        """Archived items whose link is one of `urls` (of `feed_ids`; None: every feed),
        newest first."""
        scope = "" if feed_ids is None else f" AND i.feed_id IN ({marks(feed_ids)})"
        return await self._all(
            ItemRow,
            f"{_ITEM_SELECT} WHERE i.url IN ({marks(urls)}){scope} "
            "ORDER BY i.published_at DESC, i.id DESC",
            (*urls, *(feed_ids or ())),
        )

    async def item(self, item_id: int, feed_ids: Sequence[int] | None) -> ItemRow | None:
        """The item, if it belongs to one of `feed_ids` (None: any feed)."""
        scope = "" if feed_ids is None else f" AND i.feed_id IN ({marks(feed_ids)})"
        return await self._one(
            ItemRow, f"{_ITEM_SELECT} WHERE i.id = ?{scope}", (item_id, *(feed_ids or ()))
        )

    async def titled(self, feed_ids: Sequence[int], typed: str, limit: int) -> list[ItemRow]:
        """The newest items of `feed_ids` whose title contains `typed` (case-insensitive):
        what autocomplete offers."""
        return await self._all(
            ItemRow,
            f"{_ITEM_SELECT} WHERE i.feed_id IN ({marks(feed_ids)}) "
            "AND lower(i.title) LIKE ? ESCAPE '\\' ORDER BY i.published_at DESC, i.id DESC LIMIT ?",
            (*feed_ids, like_pattern(typed.lower()), limit),
        )

    async def channels(self, item: ItemRow, guild_id: int | None) -> list[ChannelRecord]:
        """Every channel (of `guild_id`; None: of every guild) following the item's feed, by
        channel, with the item's post and the latest digest listing it."""
        subscriptions = await self._all(
            lambda *values: (_row(*values[:_ROW_WIDTH]), values[_ROW_WIDTH]),
            f"SELECT {_SUBSCRIPTION_COLUMNS}, s.digest_since FROM subscriptions s "
            "WHERE s.feed_id = ? AND s.guild_id = coalesce(?, s.guild_id) "
            "ORDER BY s.guild_id, s.channel_id",
            (item.feed_id, guild_id),
        )
        records: list[ChannelRecord] = []
        for subscription, digest_since in subscriptions:
            post = await self._one(
                _delivery,
                f"{_DELIVERY_SELECT} WHERE d.dedupe_key = ?",
                (f"item:{item.id}:ch:{subscription.channel_id}",),
            )
            digests = await self._all(
                _delivery,
                f"{_DELIVERY_SELECT} WHERE d.kind = 'digest' AND d.target_kind = 'channel' "
                "AND d.target_id = ? ORDER BY d.id DESC",
                (subscription.channel_id,),
            )
            listing = [d for d in digests if item.id in payload_of(d.payload).get("item_ids", ())]
            since = None if digest_since is None else float(digest_since)
            records.append(ChannelRecord(subscription, since, post, next(iter(listing), None)))
        return records
