"""Following topics: what `/follow`, `/unfollow`, `/following` and the "Stop this topic" button do.

A topic is a saved search in one guild (`bot.search.query`): a new item of a feed the guild
subscribes to that `/search` with the same words would return is DMed to the member. The
service keeps the in-memory percolator (`bot.search.percolator.Percolator`) current: built from
the store at start, updated on follow, unfollow, DMs closed and DMs resumed. The store stays
the authority (`queue_topic_dms_tx` checks subscriptions, feed filters and closed DMs again),
so the percolator only has to be fast, never exact about membership.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.features.search.service import SearchService
from bot.i18n import N_, _, current_locale
from bot.model import GuildFeed, QueryProblem, TopicRow
from bot.search.percolator import Percolator, active_topics_percolator
from bot.search.query import parse_query
from bot.store import Store
from bot.store.topics import MAX_TOPIC_CHARS, FollowOutcome, FollowResult

log = logging.getLogger(__name__)

TOPIC_CHOICES_MAX = 25

DMS_CLOSED_TEXT = N_(
    "⚠️ I couldn't send you a direct message (your DMs are closed to me), so your followed "
    "topics are paused. To resume: allow direct messages from this server's members "
    "(server name → Privacy Settings → Direct Messages), then run `/following` or `/follow` again."
)
DMS_RESUMED_TEXT = N_("✅ Your followed topics are active again: I'll DM you new matches.")


class StopOutcome(enum.Enum):
    STOPPED = "stopped"
    NOT_YOURS = "not_yours"
    GONE = "gone"  # already unfollowed


@dataclass(frozen=True, slots=True)
class StopResult:
    outcome: StopOutcome
    topic: TopicRow | None = None


@dataclass(frozen=True, slots=True)
class FollowAnswer:
    """What `/follow` did: the store's result, the feed it is limited to, and how many
    topics the member now follows in the guild."""

    result: FollowResult
    feed: GuildFeed | None
    count: int


@dataclass(frozen=True, slots=True)
class FollowedTopic:
    """A topic for `/following`: the row and the title of the feed it is limited to."""

    topic: TopicRow
    feed_title: str | None


class FollowService:
    """Topics of members, matched against new items, for one bot process."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self.topics = store.topics
        self._search = SearchService(store, clock=clock)
        self.percolator = Percolator()
        self._version: int | None = None  # the topics' version the percolator was built at

    # --- the percolator ------------------------------------------------------------------

    async def load(self) -> None:
        """Build the percolator from the store's active topics."""
        # Read before the topics: a change made meanwhile moves the version past it, and
        # the next refresh builds again.
        version = await self.topics.version()
        self.percolator = await active_topics_percolator(self.topics)
        self._version = version
        log.info("percolator: %d followed topic(s)", len(self.percolator))

    async def refresh(self) -> None:
        """Build the percolator again if the topics changed since (in any process sharing
        the database: a follow made in another reaches this one's matcher).
        Polling a version row, not LISTEN/NOTIFY: the same on both backends, one indexed read,
        and nothing is missed while a connection is lost and made again."""
        if await self.topics.version() != self._version:
            await self.load()

    def match(self, fields: Sequence[str]) -> set[int]:
        """The active topics an item with these fields (title, summary, text) matches."""
        return self.percolator.match(fields)

    def _activate(self, topics: Sequence[TopicRow]) -> None:
        for topic in topics:
            query = parse_query(topic.query)
            if query is not None:
                self.percolator.add(topic.id, query)

    # --- commands ------------------------------------------------------------------------

    async def follow(
        self, guild_id: int, user_id: int, text: str, *, feed: str | None = None
    ) -> FollowAnswer:
        """Follow `text` in the guild, optionally only in one of its feeds (its id, URL or
        title; SearchInputError when the guild has no such feed). The language this runs in
        (the member's, set for the interaction) becomes the language of their topic DMs."""
        resolved = (
            await self._search.resolve_feed(guild_id, feed) if feed and feed.strip() else None
        )
        text = text.strip()[:MAX_TOPIC_CHARS]
        query = parse_query(text)
        problem = QueryProblem.NO_WORDS if query is None else query.problem
        if problem is not None:
            result = FollowResult(FollowOutcome.NOT_SEARCHABLE, problem=problem.message)
        else:
            assert query is not None
            feed_id = resolved.feed_id if resolved else None
            result = await self.topics.add(
                guild_id, user_id, text, query.key, feed_id=feed_id, now=self._clock()
            )
            added = result.topic if result.outcome is FollowOutcome.ADDED else None
            if added is not None and not (await self.topics.member(user_id)).closed:
                self._activate([added])
            if resolved is None and result.topic is not None and result.topic.feed_id is not None:
                resolved = await self._search.guild_feed(guild_id, result.topic.feed_id)
        if result.topic is not None:
            await self._store.locales.set_member(user_id, current_locale(), self._clock())
        count = len(await self.topics.list_for_member(guild_id, user_id))
        return FollowAnswer(result, resolved, count)

    async def unfollow(self, guild_id: int, user_id: int, topic: str) -> TopicRow | None:
        """Unfollow the member's topic in the guild named by `topic`: an autocomplete value
        (the topic's id) or the words (any spelling with the same meaning)."""
        wanted = topic.strip()
        found = await self.topics.get(int(wanted)) if wanted.isdigit() else None
        if found is not None and (found.guild_id, found.user_id) != (guild_id, user_id):
            found = None
        query = parse_query(wanted[:MAX_TOPIC_CHARS])
        if found is None and query is not None:
            found = await self.topics.find(guild_id, user_id, query.key)
        if found is None:
            return None
        removed = await self.topics.remove(found.id, user_id=user_id)
        if removed is not None:
            self.percolator.remove(removed.id)
        return removed

    async def stop_topic(self, topic_id: int, user_id: int) -> StopResult:
        """The "Stop this topic" button: only the topic's own member may stop it."""
        row = await self.topics.get(topic_id)
        if row is not None and row.user_id != user_id:
            return StopResult(StopOutcome.NOT_YOURS)
        removed = await self.topics.remove(topic_id, user_id=user_id)
        if removed is None:
            return StopResult(StopOutcome.GONE)
        self.percolator.remove(topic_id)
        return StopResult(StopOutcome.STOPPED, removed)

    async def following(self, guild_id: int, user_id: int) -> list[FollowedTopic]:
        """The member's topics in the guild, oldest first, with their feed's title."""
        topics = await self.topics.list_for_member(guild_id, user_id)
        titles: dict[int | None, str | None] = {None: None}
        for topic in topics:
            if topic.feed_id is not None and topic.feed_id not in titles:
                feed = await self._store.feeds.get(topic.feed_id)
                titles[topic.feed_id] = feed.display_title if feed is not None else None
        return [FollowedTopic(t, titles[t.feed_id]) for t in topics]

    async def topic_choices(self, guild_id: int, user_id: int, typed: str = "") -> list[TopicRow]:
        """The member's own topics in the guild containing `typed` (for autocomplete)."""
        needle = typed.strip().lower()
        topics = await self.topics.list_for_member(guild_id, user_id)
        return [t for t in topics if needle in t.query.lower()][:TOPIC_CHOICES_MAX]

    # --- closed DMs ----------------------------------------------------------------------

    async def on_dms_closed(self, user_id: int, reason: str) -> None:
        """The outbox found the member's DMs closed (403, code 50007): pause their topics.
        Their undelivered DMs stay paused; nothing is retried."""
        await self.topics.mark_dms_closed(user_id, self._clock())
        for topic in await self.topics.list_for_user(user_id):
            self.percolator.remove(topic.id)
        log.info("user %d: DMs closed (%s); their topics are paused", user_id, reason)

    async def dm_notice(self, user_id: int, *, may_resume: bool) -> str | None:
        """Call at each command: while the member's DMs are known closed, the first command
        tells them why their follows are paused and how to resume; after that, `/follow` or
        `/following` (`may_resume`) resumes them. None: nothing to say."""
        if not (await self.topics.member(user_id)).closed:
            return None
        if await self.topics.take_closed_notice(user_id, self._clock()):
            return _(DMS_CLOSED_TEXT)
        if may_resume and await self.topics.resume_dms(user_id):
            self._activate(await self.topics.list_for_user(user_id))
            log.info("user %d: DMs resumed", user_id)
            return _(DMS_RESUMED_TEXT)
        return None
