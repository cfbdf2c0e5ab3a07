"""Subscribing channels to feeds and watching feed health: what `/feed …` does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from bot.features.digest.service import (
    DigestService,
    ModeChange,
    NotSubscribedError,
    post_waiting,
    waiting_for_digest,
)
from bot.features.feeds.filters import FilterError, check_filters, compile_filter
from bot.features.feeds.mention import MentionRule, mention_condition
from bot.features.feeds.opml import ImportResult, OpmlFeed, export_opml, import_opml, parse_opml
from bot.features.feeds.post_format import (
    ChannelLocale,
    FormatChange,
    change_format,
    preview_post,
)
from bot.features.feeds.rhythm import Rhythm, feed_rhythms
from bot.features.feeds.service import FeedService
from bot.features.feeds.subscription_filter import FilterChange, change_filter
from bot.features.feeds.testpost import QueuedTestPost, queue_test_post
from bot.features.feeds.threads import ThreadsSetting
from bot.features.feeds.webhook_identity import IdentityChange, IdentityMode, identity_setting
from bot.features.posts.identity import resolve_identity
from bot.features.posts.notices import failing_payload, recovered_payload
from bot.features.search.service import SearchService
from bot.i18n import _
from bot.ingest.pipeline import PollOutcome
from bot.model import FeedRow, GuildFeed, Message, SubscriptionRow, SubscriptionView
from bot.store import Store

MAX_BACKFILL = 10
FAILING_NOTICE_AFTER = 10

Mode = Literal["instant", "digest"]


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    feed: FeedRow
    subscription: SubscriptionRow
    created: bool  # False: the channel already had this feed (settings updated, resumed)
    backfilled: int  # items queued for posting now
    # The subscription before this add (None: created). Only the options given changed.
    previous: SubscriptionRow | None = None
    # The feed was found at another address than the one given (discovery, a redirect).
    discovered: bool = False
    # Back to instant mode: items that waited for the digest, now queued as posts.
    released: int = 0

    def changes(self, role: Callable[[int | None], str]) -> tuple[list[str], list[str]]:
        """For an existing subscription: (what this add changed, what it kept), as phrases
        such as "mode instant → digest" / "digest mode"; `role` names a role id (or None)."""
        if self.previous is None:
            return [], []
        before, after = self.previous, self.subscription
        changed: list[str] = []
        kept: list[str] = []
        if before.mode != after.mode:
            changed.append(_("mode {before} → {after}", before=_(before.mode), after=_(after.mode)))
        else:
            kept.append(_("{mode} mode", mode=_(after.mode)))
        roles = {"before": role(before.mention_role_id), "after": role(after.mention_role_id)}
        if before.mention_role_id != after.mention_role_id:
            changed.append(_("role ping {before} → {after}", **roles))
        else:
            kept.append(_("role ping {role}", role=roles["after"]))
        if before.paused and not after.paused:
            changed.append(
                _("resumed (it was paused because {reason})", reason=before.paused_reason)
            )
        return changed, kept


@dataclass(frozen=True, slots=True)
class FeedRemoval:
    feed: GuildFeed
    removed: int  # subscriptions removed (0: it did not post there)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One feed's subscriptions in a guild (empty: the guild does not follow it), at `now`."""

    views: list[SubscriptionView]
    now: float
    rhythm: Rhythm | None = None  # the feed's last weeks (None: the guild does not follow it)


@dataclass(frozen=True, slots=True)
class ImportedFeed:
    """One OPML feed subscribed: `detail` notes what could not be kept (an unusable filter)."""

    created: bool
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class FeedExport:
    document: bytes  # OPML
    count: int


class SubscriptionService:
    """What `/feed …` does. A feed is named as a person types it (an autocomplete id, its URL
    or part of its title); SearchInputError says when no feed or several match."""

    def __init__(
        self,
        store: Store,
        feeds: FeedService,
        search: SearchService,
        digests: DigestService,
        *,
        wake_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._feeds = feeds
        self._search = search
        self._digests = digests
        self._wake_outbox = wake_outbox
        self._clock = clock

    async def subscribe(
        self,
        *,
        guild_id: int,
        channel_id: int,
        url: str,
        mode: Mode | None = None,
        backfill: int = 1,
        mention_role_id: int | None = None,
        added_by: int | None = None,
        forum_tag_id: int | None = None,
    ) -> SubscribeResult:
        """Add (or resume) a channel's subscription; a new one posts the `backfill` newest
        items now (in a forum, with the tag `forum_tag_id` when given).
        None is "not given": a new subscription is instant without a role ping,
        an existing one keeps its mode and ping and changes only what is given. Raises
        FeedError subclasses with a message for the admin."""
        if not 0 <= backfill <= MAX_BACKFILL:
            raise ValueError(f"backfill must be between 0 and {MAX_BACKFILL}")
        added = await self._feeds.add(url)
        now = self._clock()
        previous = await self._store.subscriptions.find(channel_id, added.feed.id)
        waiting = (
            []
            if previous is None
            else await waiting_for_digest(self._store, previous, mode, now, check_filters)
        )
        subscription, created = await self._store.subscriptions.add(
            guild_id,
            channel_id,
            added.feed.id,
            mode=mode,
            mention_role_id=mention_role_id,
            added_by=added_by,
            now=now,
        )
        if forum_tag_id is not None:
            await self._store.subscriptions.set_forum_tag(subscription.id, forum_tag_id, now)
        queued = 0
        if created and backfill and subscription.mode == "instant":
            newest = await self._store.items.latest([added.feed.id], backfill)
            queued = await self._store.deliveries.queue_backfill(
                subscription.id, [row.id for row in newest], now
            )
        released = await post_waiting(self._store, subscription, waiting, now)
        self._wake_outbox()
        return SubscribeResult(
            added.feed,
            subscription,
            created,
            queued,
            previous=None if created else previous,
            discovered=added.discovered,
            released=released,
        )

    async def remove(self, guild_id: int, feed: str, channel_id: int | None) -> FeedRemoval:
        """Stop posting the feed in the channel (None: in every channel of the guild)."""
        found = await self._search.resolve_feed(guild_id, feed)
        removed = await self._store.subscriptions.remove(guild_id, found.feed_id, channel_id)
        return FeedRemoval(found, removed)

    async def for_guild(
        self, guild_id: int, channel_id: int | None = None
    ) -> list[SubscriptionView]:
        return await self._store.subscriptions.list_for_guild(guild_id, channel_id)

    async def status(self, guild_id: int, feed: str) -> FeedStatus:
        found = await self._search.resolve_feed(guild_id, feed)
        views = await self.for_guild(guild_id)
        now = self._clock()
        views = [v for v in views if v.subscription.feed_id == found.feed_id]
        rhythms = await feed_rhythms(self._store, views, now)
        return FeedStatus(views, now, rhythms.get(found.feed_id))

    async def rhythms(self, views: list[SubscriptionView]) -> dict[int, Rhythm]:
        return await feed_rhythms(self._store, views, self._clock())

    async def set_filter(
        self,
        guild_id: int,
        feed: str,
        channel_id: int | None,
        *,
        include: str | None = None,
        exclude: str | None = None,
        pattern: str | None = None,
        clear: bool = False,
    ) -> FilterChange:
        """`/feed filter`: see `change_filter` (raises SearchInputError, FilterError,
        ChannelNotFollowingError with what to tell the admin)."""
        found = await self._search.resolve_feed(guild_id, feed)
        return await change_filter(
            self._store,
            found,
            channel_id,
            include=include,
            exclude=exclude,
            pattern=pattern,
            clear=clear,
            now=self._clock(),
        )

    async def set_format(
        self,
        guild_id: int,
        feed: str,
        channel_id: int | None,
        *,
        style: str | None = None,
        template: str | None = None,
        reset: bool = False,
    ) -> FormatChange:
        """`/feed format`: see `change_format` (raises SearchInputError, TemplateError,
        ChannelNotFollowingError with what to tell the admin)."""
        found = await self._search.resolve_feed(guild_id, feed)
        return await change_format(
            self._store,
            found,
            channel_id,
            style=style,
            template=template,
            reset=reset,
            now=self._clock(),
        )

    async def preview(
        self,
        guild_id: int,
        feed: str,
        channel_id: int | None,
        channel_locale: ChannelLocale | None = None,
    ) -> tuple[GuildFeed, Message | None]:
        """`/feed preview`: the feed and its next post in the channel (None: no items yet),
        the post in the channel's language (`channel_locale`, else the current one)."""
        found = await self._search.resolve_feed(guild_id, feed)
        return found, await preview_post(self._store, found, channel_id, channel_locale)

    async def set_mode(self, guild_id: int, channel_id: int, feed: str, mode: Mode) -> ModeChange:
        """Switch the channel's feed between instant posts and the digest (NotSubscribedError:
        it does not post there)."""
        found = await self._search.resolve_feed(guild_id, feed)
        return await self._digests.set_mode(guild_id, channel_id, found.feed_id, mode)

    async def _followed(
        self, guild_id: int, channel_id: int, feed: str
    ) -> tuple[GuildFeed, SubscriptionRow]:
        """The guild's feed named `feed` and its subscription in the channel
        (NotSubscribedError: it does not post there)."""
        found = await self._search.resolve_feed(guild_id, feed)
        subscription = await self._store.subscriptions.find(channel_id, found.feed_id)
        if subscription is None or subscription.guild_id != guild_id:
            raise NotSubscribedError
        return found, subscription

    async def set_mention(
        self, guild_id: int, channel_id: int, feed: str, role_id: int | None, when: str | None
    ) -> MentionRule:
        """Ping `role_id` with the channel's posts of the feed (only those matching `when`, if
        given); no role clears the ping. Nothing changes when `when` cannot be used."""
        found, subscription = await self._followed(guild_id, channel_id, feed)
        condition = mention_condition(role_id, when)
        await self._store.subscriptions.set_mention(
            subscription.id, role_id, condition, self._clock()
        )
        return MentionRule(found, role_id, condition)

    async def set_merge(self, guild_id: int, channel_id: int, feed: str, merge: bool) -> GuildFeed:
        """`/feed merge`: whether the channel's posts of the feed may be merged into an earlier
        post of the same story from another of its feeds (see bot.ingest.story). Only items
        that arrive from now on are affected."""
        found, subscription = await self._followed(guild_id, channel_id, feed)
        await self._store.subscriptions.set_merge_stories(subscription.id, merge, self._clock())
        return found

    async def set_identity(
        self,
        guild_id: int,
        channel_id: int,
        feed: str,
        mode: IdentityMode,
        name: str | None,
        avatar: str | None,
    ) -> IdentityChange:
        """Nothing changes when an option cannot be used."""
        found, subscription = await self._followed(guild_id, channel_id, feed)
        setting = identity_setting(mode, name, avatar)
        await self._store.webhooks.set_identity(subscription.id, setting, self._clock())
        if setting is None:
            return IdentityChange(found, None, None)
        image = await self._store.feeds.image_url(found.feed_id)
        return IdentityChange(found, setting, resolve_identity(setting, found.title, image))

    async def set_threads(
        self, guild_id: int, channel_id: int, feed: str, on: bool
    ) -> ThreadsSetting:
        """`/feed threads`: whether each post of the feed in the channel opens a thread named
        after its item."""
        found, subscription = await self._followed(guild_id, channel_id, feed)
        await self._store.subscriptions.set_open_threads(subscription.id, on, self._clock())
        return ThreadsSetting(found, on)

    async def test_post(
        self, guild_id: int, channel_id: int, feed: str, *, request: str
    ) -> QueuedTestPost:
        found, subscription = await self._followed(guild_id, channel_id, feed)
        post = await queue_test_post(self._store, found, subscription, request, self._clock())
        self._wake_outbox()
        return post

    async def export(self, guild_id: int, title: str) -> FeedExport:
        """The guild's feeds as an OPML document (each feed once)."""
        seen: dict[str, OpmlFeed] = {}
        for view in await self.for_guild(guild_id):
            seen.setdefault(  # a feed in several channels: the first one's filter
                view.feed_url,
                OpmlFeed(
                    view.display_title, view.feed_url, view.site_url, view.subscription.filter
                ),
            )
        return FeedExport(export_opml(list(seen.values()), title), len(seen))

    async def import_feeds(
        self,
        data: bytes,
        *,
        guild_id: int,
        channel_id: int,
        mode: Mode | None,
        added_by: int | None,
        progress: Callable[[int, int], Awaitable[None]],
    ) -> list[ImportResult]:
        """Subscribe the channel to every feed of an OPML file (OpmlError: not a usable file);
        nothing is backfilled."""
        # Off the loop: a 1 MiB file of empty folders holds it ~250 ms (bench/import_lag.py).
        feeds = await asyncio.to_thread(parse_opml, data)

        filters = {feed.xml_url: feed.filter for feed in feeds if feed.filter is not None}

        async def add(url: str) -> ImportedFeed:
            result = await self.subscribe(
                guild_id=guild_id,
                channel_id=channel_id,
                url=url,
                mode=mode,
                backfill=0,
                added_by=added_by,
            )
            wanted = filters.get(url)
            if wanted is None:
                return ImportedFeed(result.created)
            try:
                compile_filter(wanted)
            except FilterError as exc:
                note = _("its filter was not applied: {reason}", reason=exc.message)
                return ImportedFeed(result.created, note)
            await self._store.subscriptions.set_filter(
                result.subscription.id, wanted, self._clock()
            )
            return ImportedFeed(result.created)

        return await import_opml(feeds, add, progress=progress)

    async def on_poll_outcome(self, feed: FeedRow, outcome: PollOutcome) -> None:
        """After each poll: wake the outbox for new items; tell subscribed channels once when
        a feed has failed 10 times in a row, and once when it recovers."""
        now = self._clock()
        since = int(feed.failing_since or now)
        notice = None
        if outcome.error is not None and outcome.consecutive_errors == FAILING_NOTICE_AFTER:
            notice = (
                "failing",
                failing_payload(
                    feed.display_title,
                    polls=FAILING_NOTICE_AFTER,
                    since=since,
                    error=outcome.error.message,
                ),
            )
        elif outcome.error is None and feed.consecutive_errors >= FAILING_NOTICE_AFTER:
            notice = "recovered", recovered_payload(feed.display_title)
        queued = notice is not None and await self._store.deliveries.queue_feed_notice(
            feed.id, notice[1], f"feed-{notice[0]}:{feed.id}:{since}", now
        )
        if outcome.new_item_ids or queued:
            self._wake_outbox()
