"""One poll of one feed: fetch → parse → new? → enrich → store. Errors are values."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from bot.ingest.errors import FeedError, HTTPStatusError
from bot.ingest.fetch import FeedFetcher, FetchResult
from bot.ingest.parse import plain
from bot.ingest.sandbox import parse_feed_bounded
from bot.ingest.story import STORY_MATCHER
from bot.ingest.timing import next_poll_after_failure, next_poll_after_success
from bot.model import EnrichedItem, Entry, FeedRow
from bot.search.percolator import active_topics_percolator
from bot.store import Store, storage_problem
from bot.store.feeds import FeedMeta
from bot.store.items import FreshItem
from bot.store.polls import PollSuccess, commit_failure, commit_poll
from bot.store.routing import FilterGate
from bot.text.enrich import enrich_entries
from bot.text.llm import LLMSummarizer, SummaryInput

log = logging.getLogger(__name__)

TopicMatcher = Callable[[Sequence[str]], Collection[int]]
"""An item's text fields (title, summary, text) → the ids of the followed topics it matches."""


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll did; `error` is set when it failed (the feed's row records it too)."""

    feed_id: int
    feed_url: str
    new_item_ids: list[int] = field(default_factory=list)
    updated_item_ids: list[int] = field(default_factory=list)
    not_modified: bool = False
    error: FeedError | None = None
    consecutive_errors: int = 0
    seconds: float = 0.0


def entry_fingerprint(entry: Entry) -> str:
    """A hash of everything we read from the raw entry: unchanged → nothing to re-enrich."""
    enclosure = entry.enclosure
    parts: tuple[str, ...] = (
        entry.title,
        entry.url or "",
        entry.author or "",
        entry.published.isoformat() if entry.published else "",
        entry.content_html,
        entry.description_html,
        entry.image_url or "",
        f"{enclosure.url}|{enclosure.type}|{enclosure.length}" if enclosure else "",
        str(entry.duration_s or ""),
    )
    if entry.html_base:  # only then, so the fingerprints of feeds without xml:base stand
        parts += (entry.html_base,)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class FeedPipeline:
    """Polls one feed at a time through every ingest stage; safe to run many concurrently."""

    def __init__(
        self,
        store: Store,
        fetcher: FeedFetcher,
        *,
        clock: Callable[[], float] = time.time,
        ai_summarizer: LLMSummarizer | None = None,
        filter_gate: FilterGate | None = None,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._clock = clock
        self._ai = ai_summarizer
        # The runtime sets its live percolator; left None (`poll --once`), the topics are
        # loaded once when first needed.
        self.topic_matcher: TopicMatcher | None = None
        self._filter_gate = filter_gate  # the channels' feed filters (bot.store.routing)

    async def poll(self, feed: FeedRow) -> PollOutcome:
        """Poll one feed. Never raises for anything the feed did: a failure, expected (a
        FeedError) or not (a bug tripped by odd input), is recorded on the feed with its
        backoff, so one bad feed neither stops a poll cycle nor gets re-polled at once."""
        started = time.perf_counter()
        try:
            result = await self._fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
            outcome = await self.ingest(feed, result)
        except Exception as exc:
            problem = storage_problem(exc, self._store.db.path)
            if isinstance(exc, FeedError):
                error = exc
            elif problem is not None:
                # The database failed (disk full, read-only, damaged), not the feed: nothing
                # of this poll was stored, so the next poll fetches the same items again.
                log.error("feed %d: %s", feed.id, problem)
                error = FeedError(f"{problem}; the poll is retried")
            else:
                log.exception("feed %d: unexpected error while polling %s", feed.id, feed.url)
                error = FeedError(
                    "digestbot could not process this feed (internal error: "
                    f"{type(exc).__name__}); the bot's log has the details"
                )
            now = self._clock()
            retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
            errors = await commit_failure(
                self._store.db,
                feed.id,
                now=now,
                next_poll_at=next_poll_after_failure(
                    feed.interval_s, now, feed.consecutive_errors + 1, retry_after_s=retry_after
                ),
                error=error.message,
            )
            log.info("feed %d poll failed (%d in a row): %s", feed.id, errors, error.message)
            outcome = PollOutcome(feed.id, feed.url, error=error, consecutive_errors=errors)
        return dataclasses.replace(outcome, seconds=time.perf_counter() - started)

    async def ingest(self, feed: FeedRow, result: FetchResult) -> PollOutcome:
        """The stages after fetch, on a response already in hand (feed add has one)."""
        now = self._clock()
        next_at = next_poll_after_success(
            feed.url,
            feed.interval_s,
            now,
            max_age_s=result.max_age_s,
            retry_after_s=result.retry_after_s,
        )
        unchanged = result.not_modified or (
            result.body_hash is not None and result.body_hash == feed.body_hash
        )
        if unchanged:
            etag, last_modified = result.etag, result.last_modified
            if result.not_modified:  # a 304 need not repeat the validators: keep ours
                etag, last_modified = etag or feed.etag, last_modified or feed.last_modified
            await commit_poll(
                self._store.db,
                feed.id,
                [],
                PollSuccess(now, next_at, etag, last_modified, None, None),
            )
            return PollOutcome(feed.id, feed.url, not_modified=True)
        parsed = await asyncio.to_thread(
            parse_feed_bounded, result.body, result.headers, result.url
        )
        known = await self._store.items.known_fingerprints(feed.id)
        hashed = [(entry, entry_fingerprint(entry)) for entry in parsed.entries]
        changed = [
            (entry, digest) for entry, digest in hashed if known.get(entry.stable_id) != digest
        ]
        fresh: list[FreshItem] = []
        if changed:
            base = parsed.site_url or result.url
            enriched = await asyncio.to_thread(
                enrich_entries,
                [entry for entry, _ in changed],
                feed_language=parsed.language,
                base_url=base,
            )
            fresh = [
                FreshItem(item, fingerprint)
                for item, (_, fingerprint) in zip(enriched, changed, strict=True)
            ]
            if self._ai is not None and feed.last_success_at is not None:
                fresh = await self._with_ai_summaries(feed, fresh, known)
        meta = FeedMeta(
            parsed.title, parsed.site_url, parsed.description, parsed.language, parsed.image_url
        )
        topic_matches = await self._match_topics(feed, fresh, known)
        saved = await commit_poll(
            self._store.db,
            feed.id,
            fresh,
            PollSuccess(now, next_at, result.etag, result.last_modified, result.body_hash, meta),
            topic_matches=topic_matches,
            filter_gate=self._filter_gate,
            story_gate=STORY_MATCHER,
        )
        if saved.new_ids:
            log.info("feed %d: %d new item(s)", feed.id, len(saved.new_ids))
        return PollOutcome(
            feed.id, feed.url, new_item_ids=saved.new_ids, updated_item_ids=saved.updated_ids
        )

    async def _match_topics(
        self, feed: FeedRow, fresh: Sequence[FreshItem], known: dict[str, str]
    ) -> dict[str, Collection[int]]:
        """Stable id → followed topics matched, for the entries that may be new (not edits, not a
        first poll's archive); the commit queues the DMs of those that really are new."""
        candidates = [f.item for f in fresh if f.item.entry.stable_id not in known]
        if feed.last_success_at is None or not candidates:
            return {}
        if self.topic_matcher is None:
            self.topic_matcher = (await active_topics_percolator(self._store.topics)).match
        match = self.topic_matcher
        found = {
            item.entry.stable_id: match((item.entry.title, item.summary, item.content_text))
            for item in candidates
        }
        return {stable_id: topics for stable_id, topics in found.items() if topics}

    async def _with_ai_summaries(
        self, feed: FeedRow, fresh: list[FreshItem], known: dict[str, str]
    ) -> list[FreshItem]:
        """Give the new items that will be delivered an AI summary, once per content hash,
        before they are stored and routed, so every channel, digest and DM shows the same text.
        Archive backfill (a first poll), edits and unsubscribed feeds never go to the model; any
        failure keeps the offline summary."""
        assert self._ai is not None
        new = [f for f in fresh if f.item.entry.stable_id not in known]
        if not new or not await self._store.subscriptions.feed_has_subscribers(feed.id):
            return fresh
        cached = await self._store.summaries.get_many([f.item.content_hash for f in new])
        missing = [f for f in new if f.item.content_hash not in cached]
        answers = await asyncio.gather(*(self._ai.try_llm(summary_input(f.item)) for f in missing))
        now = self._clock()
        for fresh_item, answer in zip(missing, answers, strict=True):
            if answer is not None:
                content_hash = fresh_item.item.content_hash
                cached[content_hash] = answer
                await self._store.summaries.put(content_hash, answer, f"llm:{self._ai.model}", now)
        return [
            FreshItem(dataclasses.replace(f.item, summary=cached[f.item.content_hash]), f.raw_hash)
            if f.item.content_hash in cached and f.item.entry.stable_id not in known
            else f
            for f in fresh
        ]


def summary_input(item: EnrichedItem) -> SummaryInput:
    entry = item.entry
    return SummaryInput(
        title=entry.title,
        text=item.content_text,
        description=plain(entry.description_html),
        language=entry.language,
        url=entry.url,
    )
