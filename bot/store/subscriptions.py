"""The subscriptions table: which channel gets which feed, how, and whether it is paused."""

from __future__ import annotations

from typing import Any

from bot.model import (
    MODES,
    POST_STYLES,
    FeedFilter,
    GuildFeed,
    PostFormat,
    SubscriptionMode,
    SubscriptionRow,
    SubscriptionView,
)
from bot.store.db import Connection, Table, fetch_one, like_pattern, scalar

# How many deliveries paused with a subscription are sent again when it resumes (the newest
# ones); older ones are cancelled so a channel is not flooded after a long pause.
RESUME_REQUEUE_LIMIT = 10

_COLUMNS = (
    "s.id, s.guild_id, s.channel_id, s.feed_id, s.mode, s.mention_role_id, s.added_by, "
    "s.created_at, s.paused_reason, s.paused_at, s.filter_include, s.filter_exclude, "
    "s.filter_pattern"
)
_ROW_WIDTH = 13
_SELECT = f"SELECT {_COLUMNS} FROM subscriptions s"

# In an UPDATE with the named parameters :mode (None: not given) and :now: when the
# subscription started collecting for its channel's digest. Kept while it stays in digest mode,
# set when it enters it, NULL in instant mode. A digest holds only items first seen after it
# (bot.store.digests).
_DIGEST_SINCE = (
    # mode not given: unchanged
    "CASE WHEN CAST(:mode AS TEXT) IS NULL THEN subscriptions.digest_since "
    "WHEN :mode <> 'digest' THEN NULL "  # leaving digest mode
    "WHEN subscriptions.mode = 'digest' "  # staying in it
    "THEN coalesce(subscriptions.digest_since, subscriptions.created_at) "
    "ELSE :now END"  # entering it now
)


_VIEW_SQL = (
    f"SELECT {_COLUMNS}, f.title, f.url, f.site_url, f.last_polled_at, f.next_poll_at, "
    "f.last_new_item_at, f.consecutive_errors, f.last_error, f.failing_since, f.disabled "
    "FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
)


def filter_of(include: str | None, exclude: str | None, pattern: str | None) -> FeedFilter | None:
    """The filter stored in a subscription's filter columns (None: it has none)."""
    found = FeedFilter(include, exclude, pattern)
    return None if found.empty else found


def _row(*values: Any) -> SubscriptionRow:
    return SubscriptionRow(*(*values[:10], filter_of(*values[10:_ROW_WIDTH])))


def _view(*values: Any) -> SubscriptionView:
    disabled = bool(values[-1])
    return SubscriptionView(*(_row(*values[:_ROW_WIDTH]), *values[_ROW_WIDTH:-1], disabled))


class SubscriptionStore(Table):
    async def add(
        self,
        guild_id: int,
        channel_id: int,
        feed_id: int,
        *,
        mode: SubscriptionMode | None = None,
        mention_role_id: int | None = None,
        added_by: int | None = None,
        now: float,
    ) -> tuple[SubscriptionRow, bool]:
        """Subscribe a channel to a feed; `created` is False when (channel, feed) existed.

        None is "not given": a new subscription is instant without a role ping; adding an
        existing subscription changes only the mode, mention and adder given. Any add resumes
        the channel's paused subscriptions (a pause is about the channel: access, permissions;
        the caller checked them before accepting): see `_resume_channel`.
        """
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown subscription mode {mode!r}")
        async with self._db.transaction() as tx:
            created = not await scalar(
                tx,
                "SELECT 1 FROM subscriptions WHERE channel_id = ? AND feed_id = ?",
                (channel_id, feed_id),
            )
            await tx.execute(
                "INSERT INTO subscriptions (guild_id, channel_id, feed_id, mode, mention_role_id, "
                "added_by, created_at, digest_since) VALUES (:guild, :channel, :feed, "
                "coalesce(:mode, 'instant'), :role, :by, :now, "
                "CASE WHEN :mode = 'digest' THEN CAST(:now AS DOUBLE PRECISION) END) "
                "ON CONFLICT (channel_id, feed_id) DO UPDATE SET guild_id = :guild, "
                f"mode = coalesce(:mode, subscriptions.mode), digest_since = {_DIGEST_SINCE}, "
                "mention_role_id = coalesce(:role, subscriptions.mention_role_id), "
                "added_by = coalesce(:by, subscriptions.added_by), updated_at = :now",
                {
                    "guild": guild_id,
                    "channel": channel_id,
                    "feed": feed_id,
                    "mode": mode,
                    "role": mention_role_id,
                    "by": added_by,
                    "now": now,
                },
            )
            await tx.execute(
                "INSERT INTO guild_feeds (guild_id, feed_id, first_subscribed_at) "
                "VALUES (?, ?, ?) ON CONFLICT (guild_id, feed_id) DO NOTHING",
                (guild_id, feed_id, now),
            )
            # The admin added a feed here again: the channel's paused subscriptions resume.
            await _resume_channel(tx, channel_id, now)
            row = await fetch_one(
                tx,
                _row,
                f"{_SELECT} WHERE s.channel_id = ? AND s.feed_id = ?",
                (channel_id, feed_id),
            )
        assert row is not None
        return row, created

    async def set_mode(self, subscription_id: int, mode: SubscriptionMode, now: float) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown subscription mode {mode!r}")
        await self._db.write(
            f"UPDATE subscriptions SET mode = :mode, digest_since = {_DIGEST_SINCE}, "
            "updated_at = :now WHERE id = :id",
            {"mode": mode, "now": now, "id": subscription_id},
        )

    async def set_filter(
        self, subscription_id: int, feed_filter: FeedFilter | None, now: float
    ) -> SubscriptionRow | None:
        """Replace the subscription's filter (None or an empty one: remove it); returns the
        row as it is now (None: no such subscription). The caller compiled it first."""
        parts = feed_filter or FeedFilter()
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE subscriptions SET filter_include = ?, filter_exclude = ?, "
                "filter_pattern = ?, updated_at = ? WHERE id = ?",
                (parts.include, parts.exclude, parts.pattern, now, subscription_id),
            )
            return await fetch_one(tx, _row, f"{_SELECT} WHERE s.id = ?", (subscription_id,))

    async def remove(self, guild_id: int, feed_id: int, channel_id: int | None = None) -> int:
        """Unsubscribe the guild's channel (or every channel of the guild) from a feed.

        Deliveries not yet sent for those subscriptions are cancelled. Returns how many
        subscriptions were removed.
        """
        where = "guild_id = ? AND feed_id = ? AND channel_id = coalesce(?, channel_id)"
        params = (guild_id, feed_id, channel_id)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE deliveries SET state = 'cancelled', last_error = 'unsubscribed' "
                "WHERE state IN ('pending', 'paused') AND subscription_id IN "
                f"(SELECT id FROM subscriptions WHERE {where})",
                params,
            )
            cursor = await tx.execute(f"DELETE FROM subscriptions WHERE {where}", params)
            return cursor.rowcount

    async def _set(self, subscription_id: int, now: float, **columns: object) -> None:
        """Set the named columns (names from this module, never from input) and updated_at."""
        await self._db.write(
            f"UPDATE subscriptions SET {''.join(f'{name} = ?, ' for name in columns)}"
            "updated_at = ? WHERE id = ?",
            (*columns.values(), now, subscription_id),
        )

    async def set_mention(
        self, subscription_id: int, role_id: int | None, when: str | None, now: float
    ) -> None:
        """Set the role the subscription's posts ping and the query a post must match to ping
        it (`when` None: every post); no role clears both."""
        mention_when = when if role_id is not None else None
        await self._set(subscription_id, now, mention_role_id=role_id, mention_when=mention_when)

    async def set_forum_tag(self, subscription_id: int, tag_id: int | None, now: float) -> None:
        """The forum tag each new post of the subscription carries (None: no tag)."""
        await self._set(subscription_id, now, forum_tag_id=tag_id)

    async def set_open_threads(self, subscription_id: int, on: bool, now: float) -> None:
        """Whether each post of the subscription opens a thread named after its item."""
        await self._set(subscription_id, now, open_threads=int(on))

    async def unmerged_feed_ids(self, channel_id: int) -> set[int]:
        """The feeds whose items the channel gets even when they repeat a story it already
        has (`/feed merge` off)."""
        rows = await self._all(
            int,
            "SELECT feed_id FROM subscriptions WHERE channel_id = ? AND merge_stories = 0",
            (channel_id,),
        )
        return set(rows)

    async def set_merge_stories(self, subscription_id: int, merge: bool, now: float) -> None:
        """Whether the subscription's items may be merged into a post of the same story."""
        await self._set(subscription_id, now, merge_stories=int(merge))

    async def mention_when(self, subscription_id: int) -> str | None:
        """The query a post must match to ping the subscription's role (None: every post)."""
        value = await self._scalar(
            "SELECT mention_when FROM subscriptions WHERE id = ?", (subscription_id,)
        )
        return None if value is None else str(value)

    async def set_format(self, subscription_id: int, post_format: PostFormat, now: float) -> None:
        """Keep how the subscription's posts look (the default card clears both columns)."""
        style = None if post_format.style == "card" else post_format.style
        await self._set(
            subscription_id, now, format_style=style, format_template=post_format.template
        )

    async def post_format(self, subscription_id: int) -> PostFormat:
        """How the subscription's posts look (the default card when it has no format)."""
        found = await self._one(
            lambda style, template: PostFormat(
                next((s for s in POST_STYLES if s == style), "card"), template
            ),
            "SELECT format_style, format_template FROM subscriptions WHERE id = ?",
            (subscription_id,),
        )
        return found or PostFormat()

    async def get(self, subscription_id: int) -> SubscriptionRow | None:
        return await self._one(_row, f"{_SELECT} WHERE s.id = ?", (subscription_id,))

    async def find(self, channel_id: int, feed_id: int) -> SubscriptionRow | None:
        return await self._one(
            _row,
            f"{_SELECT} WHERE s.channel_id = ? AND s.feed_id = ?",
            (channel_id, feed_id),
        )

    async def for_channel(self, channel_id: int) -> list[SubscriptionRow]:
        return await self._all(
            _row,
            f"{_SELECT} WHERE s.channel_id = ? ORDER BY s.id",
            (channel_id,),
        )

    async def list_for_guild(
        self, guild_id: int, channel_id: int | None = None
    ) -> list[SubscriptionView]:
        """The guild's subscriptions (optionally one channel's) with their feeds' health,
        ordered by channel then feed title."""
        return await self._all(
            _view,
            f"{_VIEW_SQL} WHERE s.guild_id = ? AND s.channel_id = coalesce(?, s.channel_id) "
            "ORDER BY s.channel_id, lower(coalesce(nullif(f.title, ''), f.url)), s.id",
            (guild_id, channel_id),
        )

    async def feeds_for_guild(
        self, guild_id: int, query: str = "", limit: int = 25
    ) -> list[GuildFeed]:
        """Feeds the guild currently subscribes to (any channel), optionally filtered by a
        case-insensitive substring of title or URL; ordered by title."""
        pattern = like_pattern(query.lower())
        return await self._all(
            lambda feed_id, title, url, channels: GuildFeed(
                feed_id, title, url, tuple(sorted(int(c) for c in channels.split(",")))
            ),
            "SELECT f.id, f.title, f.url, group_concat(s.channel_id) FROM subscriptions s "
            "JOIN feeds f ON f.id = s.feed_id WHERE s.guild_id = ? "
            "AND (lower(f.title) LIKE ? ESCAPE '\\' OR lower(f.url) LIKE ? ESCAPE '\\') "
            "GROUP BY f.id, f.title, f.url ORDER BY lower(coalesce(nullif(f.title, ''), f.url)) "
            "LIMIT ?",
            (guild_id, pattern, pattern, limit),
        )

    async def feed_ids_for_guild(self, guild_id: int) -> list[int]:
        """Every feed id the guild subscribes to, for scoping /search and /latest."""
        return await self._all(
            int,
            "SELECT DISTINCT feed_id FROM subscriptions WHERE guild_id = ? ORDER BY feed_id",
            (guild_id,),
        )

    async def searchable_feed_ids_for_guild(self, guild_id: int) -> list[int]:
        """Every feed the guild subscribes to now or did before: its /search archive."""
        return await self._all(
            int,
            "SELECT feed_id FROM guild_feeds WHERE guild_id = ? ORDER BY feed_id",
            (guild_id,),
        )

    async def feed_has_subscribers(self, feed_id: int) -> bool:
        """Whether any channel subscribes to the feed (a feed without one need not be polled)."""
        return bool(
            await self._scalar("SELECT 1 FROM subscriptions WHERE feed_id = ? LIMIT 1", (feed_id,))
        )


async def _resume_channel(tx: Connection, channel_id: int, now: float) -> None:
    """On resume (a pause is about the channel: access, permissions): every paused
    subscription of the channel resumes; of each one's paused deliveries the newest
    RESUME_REQUEUE_LIMIT go back to pending and older ones are cancelled. Paused deliveries
    not tied to a subscription (digests, notices) go back to pending."""
    of_paused = (
        "state = 'paused' AND subscription_id IN "
        "(SELECT id FROM subscriptions WHERE channel_id = ? AND paused_at IS NOT NULL)"
    )
    await tx.execute(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = NULL "
        "WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY "
        f"subscription_id ORDER BY id DESC) AS newest FROM deliveries WHERE {of_paused}) AS ranked "
        "WHERE newest <= ?)",
        (now, channel_id, RESUME_REQUEUE_LIMIT),
    )
    await tx.execute(
        "UPDATE deliveries SET state = 'cancelled', last_error = 'too old when resumed' "
        f"WHERE {of_paused}",
        (channel_id,),
    )
    await tx.execute(
        "UPDATE subscriptions SET paused_reason = NULL, paused_at = NULL, updated_at = ? "
        "WHERE channel_id = ? AND paused_at IS NOT NULL",
        (now, channel_id),
    )
    await tx.execute(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = NULL "
        "WHERE target_kind = 'channel' AND target_id = ? AND state = 'paused' "
        "AND subscription_id IS NULL",
        (now, channel_id),
    )
