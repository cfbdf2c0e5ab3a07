"""The runtime serves /healthz and /metrics when DIGESTBOT_HEALTH_PORT is set."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from bot.config import FetchAllowList, Settings
from bot.delivery.senders import ConsoleSender
from bot.runtime import Runtime
from tests.deliveryfakes import until
from tests.feedserver import FeedServer, rss_feed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_health_and_metrics_follow_the_running_bot(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()
    settings = Settings(
        db_path=tmp_path / "h.db",
        fetch_allow=FetchAllowList.parse("127.0.0.1/32"),
        poll_interval_s=0.2,
        health_port=port,
    )
    printed: list[str] = []
    runtime = await Runtime.open(settings)
    runtime.attach_sender(ConsoleSender(printed.append))
    await runtime.start()
    try:
        feed_server.set("/f", rss_feed([{"title": "One", "guid": "1"}]))
        await runtime.subscriptions.subscribe(guild_id=1, channel_id=1, url=feed_server.url("/f"))
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                body = await response.json()
                assert body["status"] == "ok" and set(body["checks"]) >= {
                    "store",
                    "poller",
                    "outbox",
                }

            async def metrics() -> str:
                async with http.get(f"{base}/metrics") as response:
                    return await response.text()

            async def item_sent() -> bool:
                return 'digestbot_deliveries_sent_total{kind="item"} 1.0' in await metrics()

            await until(item_sent, what="the item's delivery counted in /metrics")
            text = await metrics()
            assert "digestbot_items 1.0" in text
            assert "digestbot_polls_total{outcome=" in text

            await runtime.store.db._writer.close()  # the store becomes unwritable
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 503
                assert "store" in (await response.json())["failing"]
    finally:
        await runtime.close()
    assert any("One" in line for line in printed)
