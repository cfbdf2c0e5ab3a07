"""Searching a guild's archive and listing its newest items: what `/search` and `/latest` do.

The cog and the console both call `SearchService`, so they scope, parse and page alike:

- only items of feeds the guild subscribes to are ever searched or listed;
- `feed` narrows to one of those feeds (its id, its URL, or a piece of its title);
- `since` is `7d`, `2w`, `3m` (also `1y`) or a date `YYYY-MM-DD`, read in UTC;
- `author` keeps items whose author contains it;
- results come ten to a page; `/latest` lists 1–10 items (5 unless asked).

Bad input raises `SearchInputError` (a `ValueError`) whose message is a polite sentence for the
member; the query text itself never raises: an unrunnable query gives results with `problem` set.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.i18n import N_, _, ngettext, sentences
from bot.model import GuildFeed, ItemRow, QueryProblem
from bot.search.query import parse_query
from bot.store import Store
from bot.store.search import SearchPage, search_items

PAGE_SIZE = 10
LATEST_DEFAULT = 5
LATEST_MAX = 10
AUTHOR_MAX_CHARS = 200
FEED_CHOICES_MAX = 25

SINCE_HELP = N_(
    "`since` takes a number of days, weeks, months or years (`7d`, `2w`, `3m`, `1y`) "
    "or a date (`2024-05-01`)."
)
_SINCE_SPAN = re.compile(
    r"^(\d{1,5})\s*(d|days?|w|weeks?|m|mo|months?|y|years?)$",
    re.IGNORECASE,
)
_SINCE_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class SearchInputError(ValueError):
    """An option the member typed cannot be used; the message says how to fix it."""

    @property
    def message(self) -> str:
        return str(self)


def _months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the day clamped to the month)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    if year < 1970:
        return datetime.fromtimestamp(0, tz=UTC)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def parse_since(text: str, now: float) -> float:
    """`7d`, `2w`, `3m`, `1y` (before `now`) or `YYYY-MM-DD` (midnight UTC) → unix seconds;
    SearchInputError for anything else, for zero spans and for dates in the future."""
    value = text.strip()
    moment = datetime.fromtimestamp(now, tz=UTC)
    span = _SINCE_SPAN.match(value)
    if span is not None:
        amount = int(span.group(1))
        unit = span.group(2).lower()[0]
        if amount == 0:
            raise SearchInputError(_("`since` needs at least 1 (for example `7d`)."))
        if unit in "my":
            return _months_before(moment, amount * (12 if unit == "y" else 1)).timestamp()
        return max(0.0, now - amount * (7 if unit == "w" else 1) * 86400.0)
    date = _SINCE_DATE.match(value)
    if date is not None:
        try:
            start = datetime(int(date[1]), int(date[2]), int(date[3]), tzinfo=UTC)
        except ValueError:
            raise SearchInputError(
                sentences(_("That `since` date does not exist."), _(SINCE_HELP))
            ) from None
        if start.timestamp() > now:
            raise SearchInputError(_("That `since` date is in the future."))
        return max(0.0, start.timestamp())
    raise SearchInputError(sentences(_("I couldn't read that `since`."), _(SINCE_HELP)))


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A search with its options checked and resolved; page on with `SearchService.run`."""

    guild_id: int
    text: str
    feed: GuildFeed | None  # narrowed to one of the guild's feeds
    since: float | None  # unix seconds
    since_text: str | None  # as the member typed it (for showing the filters)
    author: str | None

    def filter_labels(self) -> list[str]:
        """The active filters as `name value` pairs (raw text: escape before showing)."""
        labels = []
        if self.feed is not None:
            labels.append(_("feed {feed}", feed=self.feed.title or self.feed.url))
        if self.since_text is not None:
            labels.append(_("since {since}", since=self.since_text))
        if self.author is not None:
            labels.append(_("author {author}", author=self.author))
        return labels


@dataclass(frozen=True, slots=True)
class SearchResults:
    request: SearchRequest
    page: SearchPage
    page_index: int  # 0-based
    guild_has_feeds: bool

    @property
    def first_number(self) -> int:
        """The 1-based position of the page's first hit."""
        return self.page.offset + 1


def empty_answer(results: SearchResults) -> str:
    """What to say when a search found nothing (plain text, no markdown)."""
    if results.page.problem is not None:  # no searchable words, only exclusions
        return results.page.problem.message
    if not results.guild_has_feeds:
        return _("This server doesn't follow any feeds yet, so there is nothing to search.")
    if results.page_index > 0:
        return _("There are no more results.")
    query = parse_query(results.request.text)
    fewer = query is not None and len(query.groups) + len(query.excluded) > 1
    if labels := results.request.filter_labels():
        # TRANSLATORS: between the items of a list ("a, b, c").
        filters = _(", ").join(labels)
        if fewer:
            return _(
                "No results. Try dropping a filter ({filters}) or using fewer words.",
                filters=filters,
            )
        return _("No results. Try dropping a filter ({filters}).", filters=filters)
    if fewer:
        return _("No results. Try using fewer words.")
    return _("No results. Try other words.")


class SearchService:
    """Search and newest-items lists over one guild's feeds."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_latency = on_latency or (lambda seconds: None)

    async def feed_choices(self, guild_id: int, typed: str = "") -> list[GuildFeed]:
        """At most 25 of the guild's feeds whose title or URL contains `typed`."""
        return await self._store.subscriptions.feeds_for_guild(
            guild_id, typed.strip()[:100], FEED_CHOICES_MAX
        )

    async def resolve_feed(self, guild_id: int, text: str) -> GuildFeed:
        """One of the guild's feeds from an autocomplete value (its id), its URL or a piece of
        its title; SearchInputError when none or several match."""
        wanted = text.strip()
        if not wanted:
            raise SearchInputError(_("Pick a feed from the list."))
        if wanted.isdigit() and (by_id := await self.guild_feed(guild_id, int(wanted))):
            return by_id
        matches = await self._store.subscriptions.feeds_for_guild(guild_id, wanted[:300], 500)
        lowered = wanted.lower()
        looks_like_url = "/" in wanted or ("." in wanted and " " not in wanted)
        if not looks_like_url:  # a name: "127" must not match every loopback URL
            matches = [f for f in matches if lowered in f.title.lower()]
        exact = [f for f in matches if lowered in (f.title.lower(), f.url.lower())]
        for found in (exact, matches):
            if len(found) == 1:
                return found[0]
        if not matches:
            raise SearchInputError(_("This server doesn't follow a feed by that name."))
        raise SearchInputError(
            ngettext(
                "{count} of this server's feeds matches that name: pick one from the list.",
                "{count} of this server's feeds match that name: pick one from the list.",
                len(matches),
            )
        )

    async def guild_feed(self, guild_id: int, feed_id: int) -> GuildFeed | None:
        """One of the guild's feeds by id (None: the guild does not follow it)."""
        feeds = await self._store.subscriptions.feeds_for_guild(guild_id, "", 10_000)
        return next((feed for feed in feeds if feed.feed_id == feed_id), None)

    async def search(
        self,
        guild_id: int,
        text: str,
        *,
        feed: str | None = None,
        since: str | None = None,
        author: str | None = None,
        page_index: int = 0,
    ) -> SearchResults:
        """Check and resolve the options (SearchInputError for a bad one), then run the page."""
        resolved = await self.resolve_feed(guild_id, feed) if feed and feed.strip() else None
        since_at = parse_since(since, self._clock()) if since and since.strip() else None
        author_text = (author or "").replace("\x00", "").strip()[:AUTHOR_MAX_CHARS] or None
        request = SearchRequest(
            guild_id=guild_id,
            text=text,
            feed=resolved,
            since=since_at,
            since_text=since.strip() if since_at is not None and since else None,
            author=author_text,
        )
        return await self.run(request, page_index)

    async def run(self, request: SearchRequest, page_index: int = 0) -> SearchResults:
        """One page (ten results) of a checked request; never raises for the query text."""
        page_index = max(0, page_index)
        guild_feeds = await self._store.subscriptions.searchable_feed_ids_for_guild(
            request.guild_id
        )
        feed_ids = [f for f in guild_feeds if request.feed is None or f == request.feed.feed_id]
        query = parse_query(request.text)
        if query is None:
            page = SearchPage([], 0, PAGE_SIZE, False, 0, problem=QueryProblem.NO_WORDS)
        else:
            started = time.perf_counter()
            page = await search_items(
                self._store.db,
                query,
                feed_ids=feed_ids,
                since=request.since,
                author=request.author,
                limit=PAGE_SIZE,
                offset=page_index * PAGE_SIZE,
            )
            self._on_latency(time.perf_counter() - started)
        return SearchResults(request, page, page_index, guild_has_feeds=bool(guild_feeds))

    async def latest(
        self, guild_id: int, *, feed: str | None = None, count: int = LATEST_DEFAULT
    ) -> list[ItemRow]:
        """The newest `count` (1–10) items of the guild's feeds, or of one of them."""
        count = max(1, min(count, LATEST_MAX))
        if feed and feed.strip():
            feed_ids = [(await self.resolve_feed(guild_id, feed)).feed_id]
        else:
            feed_ids = await self._store.subscriptions.feed_ids_for_guild(guild_id)
        return await self._store.items.latest(feed_ids, count)

    async def shared_item(self, guild_id: int, item_id: int) -> ItemRow | None:
        """A search result by id (to share, or to show related items of), only if it belongs
        to one of the guild's feeds."""
        row = await self._store.items.get(item_id)
        searchable = await self._store.subscriptions.searchable_feed_ids_for_guild(guild_id)
        return row if row is not None and row.feed_id in searchable else None
