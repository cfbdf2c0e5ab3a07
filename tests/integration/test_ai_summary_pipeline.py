"""AI summaries in the pipeline: only for items that will be delivered, once per content."""

from __future__ import annotations

from pathlib import Path

from bot.config import FetchAllowList, Settings
from bot.features.feeds.service import FeedService
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.model import FeedRow
from bot.store import Store
from bot.text.llm import LLMSummarizer
from tests.fakellm import GOOD_SUMMARY, Reply, running_fake_llm
from tests.feedserver import FeedServer, rss_feed


def letter(*guids: str, body: str = "A long opening paragraph about open models.") -> str:
    return rss_feed(
        [
            {
                "title": f"Post {g}",
                "guid": g,
                "link": f"https://l.example.com/{g}",
                "content": f"<p>{g} {body}</p>",
            }
            for g in guids
        ]
    )


async def feed_row(store: Store, feed_id: int) -> FeedRow:
    row = await store.feeds.get(feed_id)
    assert row is not None
    return row


async def test_only_delivered_new_items_get_one_ai_summary(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with running_fake_llm() as llm:
        settings = Settings(
            db_path=tmp_path / "a.db",
            fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
            llm_base_url=llm.base_url,
            llm_model="fake-model",
        )
        store = await Store.open(settings.db_path)
        fetcher = FeedFetcher(settings)
        ai = LLMSummarizer(settings)
        pipeline = FeedPipeline(store, fetcher, ai_summarizer=ai)
        service = FeedService(store, fetcher, pipeline, settings)
        try:
            feed_server.set("/sub", letter("a"))
            feed_server.set("/nosub", letter("z"))
            followed = await service.add(feed_server.url("/sub"))
            unfollowed = await service.add(feed_server.url("/nosub"))
            assert llm.requests == []  # archive backfill never goes to the model
            await store.subscriptions.add(1, 10, followed.feed.id, now=0)

            feed_server.set("/sub", letter("b", "a"))
            feed_server.set("/nosub", letter("y", "z"))
            outcome = await pipeline.poll(await feed_row(store, followed.feed.id))
            await pipeline.poll(await feed_row(store, unfollowed.feed.id))
            assert len(llm.requests) == 1  # the unfollowed feed's item was not sent
            (row,) = await store.items.many(outcome.new_item_ids)
            assert row.summary == GOOD_SUMMARY
            deliveries = await store.deliveries.for_target("channel", 10)
            assert [d.item_id for d in deliveries] == outcome.new_item_ids

            # The same text again (a re-post under a new id) is served from the cache.
            feed_server.set("/sub", letter("b", "a").replace("<guid>b</guid>", "<guid>b2</guid>"))
            again = await pipeline.poll(await feed_row(store, followed.feed.id))
            assert len(again.new_item_ids) == 1 and len(llm.requests) == 1
            (copy,) = await store.items.many(again.new_item_ids)
            assert copy.summary == GOOD_SUMMARY

            # A failing model keeps the offline summary; the item is not lost or delayed.
            llm.reply = Reply.error(500)
            feed_server.set("/sub", letter("c", "b", "a"))
            failed = await pipeline.poll(await feed_row(store, followed.feed.id))
            (offline,) = await store.items.many(failed.new_item_ids)
            assert offline.summary and offline.summary != GOOD_SUMMARY
        finally:
            await ai.aclose()
            await fetcher.close()
            await store.close()
