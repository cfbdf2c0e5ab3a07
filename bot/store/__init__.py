"""The store, on SQLite (the default) or PostgreSQL: all of the project's SQL is here."""

from __future__ import annotations

from pathlib import Path

from bot.store.budget import BudgetStore
from bot.store.db import (
    Backend,
    Database,
    ForeignDatabaseError,
    SchemaTooNewError,
    StoreError,
    storage_problem,
)
from bot.store.deliveries import DeliveryStore
from bot.store.digests import DigestStore
from bot.store.feeds import FeedStore
from bot.store.items import ItemStore
from bot.store.leases import ClusterLocks
from bot.store.locales import LocaleStore
from bot.store.postgres import PgDatabase, is_postgres, is_postgres_url
from bot.store.related import RelatedStore
from bot.store.state import BotStateStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.summaries import SummaryCache
from bot.store.topics import TopicStore
from bot.store.webhooks import WebhookStore
from bot.store.why import WhyStore

__all__ = ["ForeignDatabaseError", "SchemaTooNewError", "Store", "StoreError", "storage_problem"]


class Store:
    """The typed entry point the rest of the code uses: one attribute per table family."""

    def __init__(self, db: Backend) -> None:
        self.db = db
        self.feeds = FeedStore(db)
        self.items = ItemStore(db)
        self.subscriptions = SubscriptionStore(db)
        self.deliveries = DeliveryStore(db)
        self.state = BotStateStore(db)
        self.summaries = SummaryCache(db)
        self.digests = DigestStore(db)
        self.topics = TopicStore(db)
        self.why = WhyStore(db)
        self.webhooks = WebhookStore(db)
        self.related = RelatedStore(db)
        self.locales = LocaleStore(db)
        self.locks = ClusterLocks(db)
        self.budget = BudgetStore(db)  # PostgreSQL only: see `shared`

    @property
    def shared(self) -> bool:
        """Whether several processes may share this database (PostgreSQL): then they share
        the work queues' leases and Discord's budget through it."""
        return is_postgres(self.db)

    @classmethod
    async def open(cls, target: Path | str) -> Store:
        """Open the database DIGESTBOT_DB names: a `postgresql://` URL, else an SQLite file."""
        if is_postgres_url(target):
            return cls(await PgDatabase.open(str(target)))
        return cls(await Database.open(target))

    async def close(self) -> None:
        await self.db.close()
