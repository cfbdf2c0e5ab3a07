"""Discord's request budget shared by every process of one bot, in PostgreSQL (one SQLite
process keeps it in memory: bot.delivery.budget.LocalBudget). Times are the server's clock,
so processes whose clocks disagree share one timeline. Each call is one atomic statement: a
bucket's row lock serializes the processes for that statement only.
"""

from __future__ import annotations

from bot.store.db import Table, fetch_one

_CLOCK = "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)"
_NOW = f"WITH n AS (SELECT {_CLOCK} AS now) "


class BudgetStore(Table):
    async def reserve_slot(self, bucket: str, interval_s: float) -> float:
        """Reserve `bucket`'s next request slot, `interval_s` after the one before it (or
        now, if that is past): seconds from now until the slot (0: go now)."""
        async with self._db.transaction() as tx:
            wait = await fetch_one(
                tx,
                float,
                _NOW + "INSERT INTO discord_pace AS p (bucket, next_slot) "
                "SELECT ?, n.now + ? FROM n ON CONFLICT (bucket) DO UPDATE "
                "SET next_slot = greatest(p.next_slot + ?, excluded.next_slot) "
                "RETURNING p.next_slot - ? - (SELECT now FROM n)",
                (bucket, interval_s, interval_s, interval_s),
            )
        return max(0.0, wait or 0.0)

    async def take_target(self, target: str, burst: int, window_s: float) -> bool:
        """Count one send to `target` now if it sent fewer than `burst` in the last
        `window_s` (a sliding window); False (nothing counted) if its bucket is full."""
        async with self._db.transaction() as tx:
            taken = await fetch_one(
                tx,
                int,
                _NOW + "INSERT INTO discord_target_sends AS t (target, sent_at) "
                "SELECT ?, ARRAY[n.now] FROM n ON CONFLICT (target) DO UPDATE "
                "SET sent_at = ARRAY(SELECT s FROM unnest(t.sent_at) s "
                "WHERE s > (SELECT now FROM n) - ?) || (SELECT now FROM n) "
                "WHERE (SELECT count(*) FROM unnest(t.sent_at) s "
                "WHERE s > (SELECT now FROM n) - ?) < ? RETURNING 1",
                (target, window_s, window_s, burst),
            )
        return taken is not None

    async def restamp_newest(self, target: str) -> None:
        """Move `target`'s newest counted send to now (it has had its answer)."""
        await self._db.write(
            _NOW + "UPDATE discord_target_sends SET sent_at[array_length(sent_at, 1)] = "
            "(SELECT now FROM n) WHERE target = ?",
            (target,),
        )

    async def prune_targets(self, window_s: float) -> int:
        """Forget the targets with no send in the last `window_s` (a full window ago: their
        bucket is empty again); how many were forgotten."""
        return await self._db.write(
            _NOW + "DELETE FROM discord_target_sends WHERE "
            "(SELECT max(s) FROM unnest(sent_at) s) <= (SELECT now FROM n) - ?",
            (window_s,),
        )

    async def target_hold(self, target: str, burst: int, window_s: float) -> float:
        """Seconds until `target` may be sent to once more (0: now)."""
        row = await fetch_one(
            self._db.reader,
            lambda now, sent: (float(now), list(sent or ())),
            f"SELECT {_CLOCK}, (SELECT sent_at FROM discord_target_sends WHERE target = ?)",
            (target,),
        )
        now, sent = row or (0.0, [])
        recent: list[float] = sorted(s for s in sent if s > now - window_s)
        if len(recent) < burst:
            return 0.0
        return max(0.0, recent[-burst] + window_s - now)
