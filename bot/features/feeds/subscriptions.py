"""Subscribing channels to feeds and watching feed health: what `/feed …` does."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.features.feeds.service import FeedService
from bot.ingest.pipeline import PollOutcome
from bot.safe import escape_markdown, neutralize_mentions
from bot.store import Store
from bot.store.feeds import FeedRow
from bot.store.subscriptions import SubscriptionRow, SubscriptionView

MAX_BACKFILL = 10
FAILING_NOTICE_AFTER = 10

Mode = Literal["instant", "digest"]


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    feed: FeedRow
    subscription: SubscriptionRow
    created: bool  # False: the channel already had this feed (settings updated, resumed)
    backfilled: int  # items queued for posting now


class SubscriptionService:
    def __init__(
        self,
        store: Store,
        feeds: FeedService,
        *,
        wake_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._feeds = feeds
        self._wake_outbox = wake_outbox
        self._clock = clock

    async def subscribe(
        self,
        *,
        guild_id: int,
        channel_id: int,
        url: str,
        mode: Mode = "instant",
        backfill: int = 1,
        mention_role_id: int | None = None,
        added_by: int | None = None,
    ) -> SubscribeResult:
        """Add (or update and resume) a channel's subscription; post the `backfill` newest
        items now. Raises FeedError subclasses with a message for the admin."""
        if not 0 <= backfill <= MAX_BACKFILL:
            raise ValueError(f"backfill must be between 0 and {MAX_BACKFILL}")
        added = await self._feeds.add(url)
        now = self._clock()
        subscription, created = await self._store.subscriptions.add(
            guild_id,
            channel_id,
            added.feed.id,
            mode=mode,
            mention_role_id=mention_role_id,
            added_by=added_by,
            now=now,
        )
        queued = 0
        if created and backfill and mode == "instant":
            newest = await self._store.items.latest([added.feed.id], backfill)
            queued = await self._store.deliveries.queue_backfill(
                subscription.id, [row.id for row in newest], now
            )
        self._wake_outbox()
        return SubscribeResult(added.feed, subscription, created, queued)

    async def unsubscribe(self, guild_id: int, feed_id: int, channel_id: int | None) -> int:
        return await self._store.subscriptions.remove(guild_id, feed_id, channel_id)

    async def for_guild(
        self, guild_id: int, channel_id: int | None = None
    ) -> list[SubscriptionView]:
        return await self._store.subscriptions.list_for_guild(guild_id, channel_id)

    async def status(self, guild_id: int, feed_id: int) -> list[SubscriptionView]:
        return [v for v in await self.for_guild(guild_id) if v.subscription.feed_id == feed_id]

    async def on_poll_outcome(self, feed: FeedRow, outcome: PollOutcome) -> None:
        """After each poll: wake the outbox for new items; tell subscribed channels once when
        a feed has failed 10 times in a row, and once when it recovers."""
        now = self._clock()
        title = neutralize_mentions(escape_markdown(feed.display_title))
        if outcome.new_item_ids:
            self._wake_outbox()
        if outcome.error is not None and outcome.consecutive_errors == FAILING_NOTICE_AFTER:
            since = int(feed.failing_since or now)
            text = (
                f"⚠️ The feed **{title}** has failed {FAILING_NOTICE_AFTER} polls "
                f"in a row (since <t:{since}:R>): {outcome.error.message} "
                "It is still retried, less often; you'll get a notice when it recovers."
            )
            if await self._store.deliveries.queue_feed_notice(
                feed.id, text, f"feed-failing:{feed.id}:{since}", now
            ):
                self._wake_outbox()
        elif outcome.error is None and feed.consecutive_errors >= FAILING_NOTICE_AFTER:
            since = int(feed.failing_since or now)
            text = f"✅ The feed **{title}** is working again."
            if await self._store.deliveries.queue_feed_notice(
                feed.id, text, f"feed-recovered:{feed.id}:{since}", now
            ):
                self._wake_outbox()
