"""The bot's delivery path as a process the crash test kills with SIGKILL at random moments.

    python -m tests.crash_child --db PATH --chat http://127.0.0.1:PORT

Runs the real FeedPoller → FeedPipeline (FeedFetcher against loopback feeds; set
DIGESTBOT_FETCH_ALLOW=127.0.0.1/32) → store → Outbox, with a Sender that posts to the test's
loopback chat server, which behaves like Discord's message endpoint: a message id per post,
de-duplication by nonce for a short window, and the channel's recent messages on GET.
Prints "ready" once it runs; runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import aiohttp

from bot.config import load_settings
from bot.delivery.senders import PermanentSendError, RetryableSendError
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline, PollOutcome
from bot.ingest.poller import FeedPoller
from bot.model import DeliveryRow, FeedRow, Message
from bot.store import Store
from tests.deliveryfakes import make_outbox
from tests.orphans import die_with_parent


class LoopbackChatSender:
    """A Sender for the crash test's chat server (a stand-in for Discord's REST API)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    def _url(self, delivery: DeliveryRow) -> str:
        return f"{self._base}/channels/{delivery.target_id}/messages"

    async def _post(self, delivery: DeliveryRow, body: dict[str, object]) -> int:
        try:
            async with self._session.post(
                self._url(delivery), json=body, timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                if response.status == 429:
                    raise RetryableSendError("429", retry_after=0.05, maybe_sent=False)
                if response.status >= 500:
                    raise RetryableSendError(f"HTTP {response.status}")
                if response.status >= 400:
                    raise PermanentSendError(f"HTTP {response.status}")
                data = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RetryableSendError(f"connection problem: {error!r}") from error
        return int(data["id"])

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int:
        body: dict[str, object] = {"nonce": nonce, "content": message.content}
        if message.embeds:
            body["item_url"] = message.embeds[0].url
            body["title"] = message.embeds[0].title
        return await self._post(delivery, body)

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        try:
            async with self._session.get(
                self._url(delivery), params={"limit": "100"}, timeout=aiohttp.ClientTimeout(5)
            ) as response:
                if response.status >= 400:
                    raise RetryableSendError(f"history: HTTP {response.status}")
                messages = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RetryableSendError(f"connection problem: {error!r}") from error
        url = message.embeds[0].url if message.embeds else None
        for posted in messages:
            if url is not None and posted.get("item_url") == url:
                return int(posted["id"])
            if url is None and posted.get("content") == message.content:
                return int(posted["id"])
        return None

    async def guild_name(self, guild_id: int) -> str | None:
        return None

    async def system_channel_for(self, guild_id: int) -> int | None:
        return None


async def run(db: str, chat_url: str) -> None:
    settings = load_settings()
    store = await Store.open(db)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session, FeedFetcher(settings) as fetcher:
        outbox = make_outbox(
            store,
            LoopbackChatSender(session, chat_url),
            rate_per_s=400.0,
            channel_burst=10_000,
            concurrency=8,
            backoff_base_s=0.05,
            backoff_cap_s=0.4,
            idle_s=0.5,
        )

        async def on_outcome(feed: FeedRow, outcome: PollOutcome) -> None:
            if outcome.new_item_ids:
                outbox.wake()

        poller = FeedPoller(
            store, FeedPipeline(store, fetcher), on_outcome=on_outcome, max_idle_s=0.2
        )
        print("ready", flush=True)
        await asyncio.gather(outbox.run(stop), poller.run(stop))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--chat", required=True)
    args = parser.parse_args()
    die_with_parent()  # a test that dies never leaves this process running
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run(args.db, args.chat))


if __name__ == "__main__":
    main()
