"""Followed topics (saved searches that DM a member when a new item matches) and members' DMs.

A topic belongs to one member in one guild; `norm_key` is its query's canonical text (two
spellings with the same meaning share it), computed by the follow feature.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model import MemberDMs, TopicRow
from bot.store.db import Connection, Table, fetch_all, fetch_one, marks, scalar
from bot.store.routing import NewDelivery, dm_key, queue_delivery

MAX_TOPICS_PER_MEMBER = 25  # per member per guild
MAX_TOPIC_CHARS = 200
_IDS_PER_STATEMENT = 5000  # well under SQLite's and PostgreSQL's parameter limits

_SELECT = (
    "SELECT t.id, t.guild_id, t.user_id, t.query, t.norm_key, t.feed_id, t.created_at, "
    "t.match_count, t.last_match_at FROM topics t"
)
_BY_KEY = f"{_SELECT} WHERE t.guild_id = ? AND t.user_id = ? AND t.norm_key = ?"
# bot_state's counter of changes to the active topics: each process's percolator reloads
# when it moves (a follow made in one process reaches the others' matchers).
TOPICS_VERSION_KEY = "topics_version"
# Topics of members whose DMs are not closed.
_ACTIVE = f"{_SELECT} LEFT JOIN members m ON m.user_id = t.user_id WHERE m.dms_closed_at IS NULL"


class FollowOutcome(enum.Enum):
    ADDED = "added"
    ALREADY_FOLLOWED = "already_followed"
    LIMIT_REACHED = "limit_reached"
    NOT_SEARCHABLE = "not_searchable"


@dataclass(frozen=True, slots=True)
class FollowResult:
    """`topic` is the new topic (ADDED) or the existing one (ALREADY_FOLLOWED); `problem`
    says, in words, why the text is NOT_SEARCHABLE."""

    outcome: FollowOutcome
    topic: TopicRow | None = None
    problem: str | None = None


class TopicStore(Table):
    async def add(
        self,
        guild_id: int,
        user_id: int,
        text: str,
        key: str,
        *,
        feed_id: int | None = None,
        now: float,
    ) -> FollowResult:
        """Follow `text` (whose canonical query is `key`) in the guild: ADDED,
        ALREADY_FOLLOWED (same key) or LIMIT_REACHED (MAX_TOPICS_PER_MEMBER)."""
        async with self._db.transaction() as tx:
            existing = await fetch_one(tx, TopicRow, _BY_KEY, (guild_id, user_id, key))
            if existing is not None:
                return FollowResult(FollowOutcome.ALREADY_FOLLOWED, topic=existing)
            count = await scalar(
                tx,
                "SELECT count(*) FROM topics WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
            if count >= MAX_TOPICS_PER_MEMBER:
                return FollowResult(FollowOutcome.LIMIT_REACHED)
            topic_id = int(
                await scalar(
                    tx,
                    "INSERT INTO topics (guild_id, user_id, query, norm_key, feed_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    (guild_id, user_id, text, key, feed_id, now),
                )
            )
            await bump_topics_version(tx)
        return FollowResult(
            FollowOutcome.ADDED,
            topic=TopicRow(topic_id, guild_id, user_id, text, key, feed_id, now, 0, None),
        )

    async def get(self, topic_id: int) -> TopicRow | None:
        return await self._one(TopicRow, f"{_SELECT} WHERE t.id = ?", (topic_id,))

    async def find(self, guild_id: int, user_id: int, key: str) -> TopicRow | None:
        """The member's topic in the guild whose canonical query is `key` (for /unfollow)."""
        return await self._one(TopicRow, _BY_KEY, (guild_id, user_id, key))

    async def remove(self, topic_id: int, *, user_id: int) -> TopicRow | None:
        """Unfollow: only the topic's own member can; the removed topic, or None."""
        async with self._db.transaction() as tx:
            row = await fetch_one(
                tx, TopicRow, f"{_SELECT} WHERE t.id = ? AND t.user_id = ?", (topic_id, user_id)
            )
            if row is not None:
                await tx.execute("DELETE FROM topics WHERE id = ?", (topic_id,))
                await bump_topics_version(tx)
        return row

    async def list_for_member(self, guild_id: int, user_id: int) -> list[TopicRow]:
        """The member's topics in the guild (with match counts), oldest first."""
        return await self._all(
            TopicRow,
            f"{_SELECT} WHERE t.guild_id = ? AND t.user_id = ? ORDER BY t.id",
            (guild_id, user_id),
        )

    async def list_for_user(self, user_id: int) -> list[TopicRow]:
        """The member's topics in every guild (to pause or resume them together), oldest first."""
        return await self._all(TopicRow, f"{_SELECT} WHERE t.user_id = ? ORDER BY t.id", (user_id,))

    async def all_active(self) -> list[TopicRow]:
        """Every topic of members whose DMs are not closed: what the percolator matches."""
        return await self._all(TopicRow, f"{_ACTIVE} ORDER BY t.id")

    async def version(self) -> int:
        """The active topics' version: it changes whenever a topic is followed or
        unfollowed, or a member's DMs close or reopen, in any process."""
        value = await self._scalar(
            "SELECT value FROM bot_state WHERE key = ?", (TOPICS_VERSION_KEY,)
        )
        return 0 if value is None else int(value)

    # Members' DMs -------------------------------------------------------------------------

    async def member(self, user_id: int) -> MemberDMs:
        found = await self._one(
            MemberDMs,
            "SELECT user_id, dm_channel_id, dms_closed_at, closed_notice_at FROM members "
            "WHERE user_id = ?",
            (user_id,),
        )
        return found or MemberDMs(user_id, None, None, None)

    async def dm_channel_of(self, user_id: int) -> int | None:
        return (await self.member(user_id)).dm_channel_id

    async def set_dm_channel(self, user_id: int, channel_id: int) -> None:
        await self._db.write(
            "INSERT INTO members (user_id, dm_channel_id) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET dm_channel_id = excluded.dm_channel_id",
            (user_id, channel_id),
        )

    async def mark_dms_closed(self, user_id: int, now: float) -> None:
        """The member's DMs are closed: their topics pause (all_active leaves them out)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO members (user_id, dms_closed_at) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET "
                "dms_closed_at = coalesce(members.dms_closed_at, excluded.dms_closed_at), "
                "closed_notice_at = NULL",
                (user_id, now),
            )
            await bump_topics_version(tx)

    async def take_closed_notice(self, user_id: int, now: float) -> bool:
        """True once per closure: the member's DMs are closed and they have not been told yet
        (call on their next command, then tell them why their follows are paused)."""
        return (
            await self._db.write(
                "UPDATE members SET closed_notice_at = ? WHERE user_id = ? "
                "AND dms_closed_at IS NOT NULL AND closed_notice_at IS NULL",
                (now, user_id),
            )
            > 0
        )

    async def resume_dms(self, user_id: int) -> bool:
        """The member opened their DMs again: their topics are active again."""
        async with self._db.transaction() as tx:
            cursor = await tx.execute(
                "UPDATE members SET dms_closed_at = NULL, closed_notice_at = NULL "
                "WHERE user_id = ? AND dms_closed_at IS NOT NULL",
                (user_id,),
            )
            if resumed := cursor.rowcount > 0:
                await bump_topics_version(tx)
        return resumed


async def bump_topics_version(tx: Connection) -> None:
    """Inside a write transaction that changes the active topics: move their version."""
    await tx.execute(
        "INSERT INTO bot_state (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET "
        "value = CAST(CAST(bot_state.value AS INTEGER) + 1 AS TEXT)",
        (TOPICS_VERSION_KEY,),
    )


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    """`ids` in pieces a statement can take: a popular word may match more topics than a
    statement takes parameters."""
    return [
        ids[start : start + _IDS_PER_STATEMENT] for start in range(0, len(ids), _IDS_PER_STATEMENT)
    ]


async def queue_topic_dms_tx(
    tx: Connection, item_id: int, feed_id: int, topic_ids: Sequence[int], now: float
) -> int:
    """Inside the poll's write transaction, for one NEW item (never a backfill or an edit):
    queue one 'dm' delivery per member with a matching topic, and count the matches.

    `topic_ids` are the percolator's matches for the item. Only topics whose guild subscribes
    to the item's feed count (a member never learns of feeds their guild does not follow), whose
    feed filter allows the feed, and whose member's DMs are open. A member matched by several
    topics or in several guilds gets one DM (dedupe key `dm:{item}:u:{user}`); its payload lists
    every matching topic with its guild. Match counts grow only with a newly queued DM.
    Returns how many DMs were queued.
    """
    by_user: dict[int, list[TopicRow]] = {}
    for chunk in _chunks(sorted(set(topic_ids))):
        for topic in await fetch_all(
            tx,
            TopicRow,
            f"{_ACTIVE} AND t.id IN ({marks(chunk)}) AND (t.feed_id IS NULL OR t.feed_id = ?) "
            "AND EXISTS (SELECT 1 FROM subscriptions s "
            "WHERE s.guild_id = t.guild_id AND s.feed_id = ?) ORDER BY t.id",
            (*chunk, feed_id, feed_id),
        ):
            by_user.setdefault(topic.user_id, []).append(topic)
    queued = 0
    counted: list[int] = []
    for user_id, matched in by_user.items():
        payload = {
            "topics": [{"id": t.id, "guild_id": t.guild_id, "query": t.query} for t in matched]
        }
        dm = NewDelivery(
            dm_key(item_id, user_id),
            "dm",
            "user",
            user_id,
            item_id=item_id,
            guild_id=matched[0].guild_id,
            payload=payload,
        )
        if await queue_delivery(tx, dm, now):
            queued += 1
            counted += [t.id for t in matched]
    for chunk in _chunks(counted):
        await tx.execute(
            "UPDATE topics SET match_count = match_count + 1, last_match_at = ? "
            f"WHERE id IN ({marks(chunk)})",
            (now, *chunk),
        )
    return queued
