"""The poller: bounded concurrency, a per-host limit, and feed-health notices to channels."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import FetchAllowList, Settings
from bot.delivery.senders import ConsoleSender
from bot.features.posts.notices import render_notice
from bot.runtime import Runtime
from tests.feedserver import FeedServer, Handler, rss_feed


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "db_path": tmp_path / "p.db",
        "fetch_allow": FetchAllowList.parse("127.0.0.1/32, localhost"),
        "poll_interval_s": 60,
    }
    return Settings(**(base | overrides))


async def test_concurrency_and_per_host_limits_hold(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    total_peak = 0

    full = asyncio.Event()

    def slow(body: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            nonlocal total_peak
            host = request.host.split(":")[0]
            in_flight[host] = in_flight.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), in_flight[host])
            total_peak = max(total_peak, sum(in_flight.values()))
            if total_peak >= 3:
                full.set()
            # Held until the poller has as many fetches in flight as it may (3): the limits
            # are then measured at their fullest, not by luck of timing.
            await asyncio.wait_for(full.wait(), 10)
            in_flight[host] -= 1
            return web.Response(text=body, content_type="application/rss+xml")

        return handler

    runtime = await Runtime.open(settings(tmp_path, poll_concurrency=3))
    try:
        urls = []
        for n in range(8):
            feed_server.set(f"/f{n}", rss_feed([{"title": f"post {n}", "guid": f"g{n}"}]))
            host = "127.0.0.1" if n % 2 else "localhost"
            urls.append(f"http://{host}:{feed_server.port}/f{n}")
        for url in urls:
            await runtime.feeds.add(url)
        for n in range(8):
            feed_server.set_handler(f"/f{n}", slow(rss_feed([{"title": f"p{n}", "guid": f"h{n}"}])))
        outcomes = await runtime.poller.poll_due(all_feeds=True)
        assert len(outcomes) == 8 and all(o.error is None for o in outcomes)
        assert total_peak == 3  # poll_concurrency, reached and never passed
        assert set(peak) == {"127.0.0.1", "localhost"}
        assert all(value <= 2 for value in peak.values())  # poll_per_host
    finally:
        await runtime.close()


def _notice_text(payload: str | None) -> str:
    """What a queued notice says when sent (in English: no channel language is set)."""
    notice = render_notice(json.loads(payload or "{}"))
    return notice.content or "" if notice is not None else ""


async def test_ten_failures_in_a_row_notify_once_and_recovery_notifies_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    printed: list[str] = []
    runtime = await Runtime.open(settings(tmp_path))
    runtime.attach_sender(ConsoleSender(printed.append))
    try:
        feed_server.set("/f", rss_feed([{"title": "@everyone hi", "guid": "1"}], title="Flaky"))
        await runtime.subscriptions.subscribe(guild_id=1, channel_id=5, url=feed_server.url("/f"))
        feed_server.set("/f", "down", status=500)
        for _ in range(12):
            await runtime.poller.poll_due(all_feeds=True)
        notices = await runtime.store.deliveries.for_target("channel", 5)
        texts = [_notice_text(d.payload) for d in notices if d.kind == "notice"]
        assert len(texts) == 1 and "failed 10 polls in a row" in texts[0]
        assert "500" in texts[0]

        feed_server.set("/f", rss_feed([{"title": "back", "guid": "2"}], title="Flaky"))
        await runtime.poller.poll_due(all_feeds=True)
        await runtime.poller.poll_due(all_feeds=True)
        notices = await runtime.store.deliveries.for_target("channel", 5)
        texts = [_notice_text(d.payload) for d in notices if d.kind == "notice"]
        assert len(texts) == 2 and "working again" in texts[1]
        assert (await runtime.store.feeds.all())[0].consecutive_errors == 0
    finally:
        await runtime.close()
