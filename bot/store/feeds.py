"""The feeds table: what to poll, when, and how it went (a poll's outcome: bot.store.polls)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.model import FeedRow
from bot.store.db import Table, fetch_all, fetch_one, marks
from bot.store.postgres import is_postgres

_COLUMNS = (
    "id, url, title, site_url, description, language, etag, last_modified, body_hash, "
    "interval_s, next_poll_at, last_polled_at, last_success_at, last_new_item_at, "
    "consecutive_errors, last_error, failing_since, disabled, disabled_reason, created_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM feeds"


def _feed(*values: Any) -> FeedRow:
    row = FeedRow(*values)
    return replace(row, disabled=bool(row.disabled))


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a successful fetch+parse learned about a feed."""

    title: str
    site_url: str | None
    description: str | None
    language: str | None
    image_url: str | None = None


class FeedStore(Table):
    async def add(
        self, url: str, *, interval_s: float, now: float, first_poll_at: float
    ) -> FeedRow:
        """Insert the feed if its (normalized) URL is new; return the row either way."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO feeds (url, interval_s, next_poll_at, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (url) DO NOTHING",
                (url, interval_s, first_poll_at, now),
            )
            row = await fetch_one(tx, _feed, f"{_SELECT} WHERE url = ?", (url,))
        assert row is not None
        return row

    async def image_url(self, feed_id: int) -> str | None:
        """The feed's own image, as its last successful poll gave it (None: it has none)."""
        value = await self._scalar("SELECT image_url FROM feeds WHERE id = ?", (feed_id,))
        return None if value is None else str(value)

    async def get(self, feed_id: int) -> FeedRow | None:
        return await self._one(_feed, f"{_SELECT} WHERE id = ?", (feed_id,))

    async def by_url(self, url: str) -> FeedRow | None:
        return await self._one(_feed, f"{_SELECT} WHERE url = ?", (url,))

    async def all(self) -> list[FeedRow]:
        return await self._all(_feed, f"{_SELECT} ORDER BY id")

    async def due(self, now: float, limit: int) -> list[FeedRow]:
        """Enabled feeds whose next poll time has come, most overdue first."""
        return await self._all(
            _feed,
            f"{_SELECT} WHERE disabled = 0 AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?",
            (now, limit),
        )

    # --- leases: several processes polling one PostgreSQL database ------------------------

    @property
    def leased(self) -> bool:
        """Whether due feeds are leased (PostgreSQL: any number of processes may poll); on
        SQLite one process polls, and `take_due` is `due`."""
        return is_postgres(self._db)

    async def take_due(
        self, now: float, limit: int, *, holder: str, lease_s: float
    ) -> list[FeedRow]:
        """The due feeds this process is to poll now, most overdue first. On PostgreSQL each
        is leased to `holder` until `now + lease_s` (or `release`): one process polls it,
        and a dead process's feeds are taken over when their leases expire."""
        if not self.leased:
            return await self.due(now, limit)
        async with self._db.transaction() as tx:
            feeds = await fetch_all(
                tx,
                _feed,
                "UPDATE feeds SET lease_holder = ?, lease_until = ? WHERE id IN ("
                "SELECT id FROM feeds WHERE disabled = 0 AND next_poll_at <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) "
                "ORDER BY next_poll_at LIMIT ? FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_COLUMNS}",
                (holder, now + lease_s, now, now, limit),
            )
        return sorted(feeds, key=lambda f: (f.next_poll_at, f.id))

    async def release(self, feed_id: int, holder: str) -> None:
        """End `holder`'s lease on the feed (its poll is recorded). No-op on SQLite."""
        if self.leased:
            await self._db.write(
                "UPDATE feeds SET lease_holder = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_holder = ?",
                (feed_id, holder),
            )

    async def renew(self, holder: str, feed_ids: Sequence[int], until: float) -> None:
        """Extend `holder`'s leases on these feeds (it is still polling them) to `until`; a
        lease another process took over meanwhile is left alone. No-op on SQLite."""
        if self.leased and feed_ids:
            await self._db.write(
                f"UPDATE feeds SET lease_until = ? WHERE lease_holder = ? "
                f"AND id IN ({marks(feed_ids)})",
                (until, holder, *feed_ids),
            )

    async def leases_held(self, holder: str) -> int:
        """How many feeds `holder` holds a lease on now (0 on SQLite)."""
        if not self.leased:
            return 0
        return int(
            await self._scalar("SELECT count(*) FROM feeds WHERE lease_holder = ?", (holder,)) or 0
        )

    async def next_due_at(self, now: float | None = None) -> float | None:
        """When the next feed is due. With `now` on PostgreSQL, a feed another process
        leases counts as due when its lease expires (it is not this process's to poll)."""
        if now is None or not self.leased:
            due = await self._scalar("SELECT min(next_poll_at) FROM feeds WHERE disabled = 0")
        else:
            due = await self._scalar(
                "SELECT min(CASE WHEN lease_until >= ? THEN lease_until ELSE next_poll_at END) "
                "FROM feeds WHERE disabled = 0",
                (now,),
            )
        return None if due is None else float(due)
