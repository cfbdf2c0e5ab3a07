"""Feed documents beyond well-formed RSS and Atom (issue 19, items 6 and 10): a body cut off
before its root element closes is a failed fetch that the next poll retries, and JSON Feed 1 and
1.1 are read like any feed. Through the `digestbot` CLI and the feed service, on a real SQLite
file and a loopback feed server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.features.feeds.service import FeedService
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.store import Store
from tests.e2e.harness import bot_settings
from tests.feedserver import FeedServer, rss_feed
from tests.integration.test_cli import archive_env, digestbot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jsonfeed"
JSON_FEED = "application/feed+json"


def long_letter(count: int) -> str:
    """A feed well over 3,000 bytes, newest item first."""
    return rss_feed(
        [
            {
                "title": f"Post {n}",
                "guid": f"post-{n}",
                "link": f"https://letter.example.com/p/{n}",
                "content": f"<p>Post {n} opens here. " + "It argues at length. " * 20 + "</p>",
            }
            for n in range(count, 0, -1)
        ],
        title="Long Letter",
    )


@contextlib.asynccontextmanager
async def feed_service(tmp_path: Path) -> AsyncIterator[tuple[Store, FeedService]]:
    settings = bot_settings(tmp_path)
    store = await Store.open(settings.db_path)
    try:
        async with FeedFetcher(settings) as fetcher:
            yield store, FeedService(store, fetcher, FeedPipeline(store, fetcher), settings)
    finally:
        await store.close()


async def test_a_cut_off_feed_is_a_failed_fetch_and_the_next_poll_retries(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = archive_env(tmp_path)
    whole = long_letter(6).encode()
    assert len(whole) > 3000
    feed_server.set("/feed.xml", whole[:3000])
    code, out, err = await digestbot("feeds", "add", feed_server.url("/feed.xml"), env=env)
    assert code != 0 and "the feed was cut off after 3,000 bytes" in out + err
    code, out, _ = await digestbot("feeds", "list", env=env)
    assert "No feeds yet" in out  # nothing of the half feed was kept

    feed_server.set("/feed.xml", whole)
    code, out, _ = await digestbot("feeds", "add", feed_server.url("/feed.xml"), env=env)
    assert code == 0 and "6 items archived" in out

    newer = long_letter(7).encode()
    feed_server.set("/feed.xml", newer[:3000])
    code, out, _ = await digestbot("poll", "--once", env=env)
    assert "failed: the feed was cut off after 3,000 bytes" in out
    assert "Post 7" not in out
    feed_server.set("/feed.xml", newer)
    code, out, _ = await digestbot("poll", "--once", env=env)
    assert code == 0 and "1 new" in out and "Post 7" in out


async def test_the_json_feed_specification_examples_are_read(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    for fixture in sorted(FIXTURES.glob("*.json")):
        feed_server.set(f"/{fixture.name}", fixture.read_bytes(), content_type=JSON_FEED)
    async with feed_service(tmp_path) as (store, service):
        simple = await service.add(feed_server.url("/simple-1.1.json"))
        assert simple.created and simple.feed.title == "My Example Feed"
        assert simple.feed.site_url == "https://example.org/"
        rows = await store.items.latest([simple.feed.id], 10)
        assert {(r.stable_id, r.url, r.title) for r in rows} == {
            ("2", "https://example.org/second-item", "This is a second item."),
            ("1", "https://example.org/initial-post", "Hello, world!"),
        }
        assert {r.summary for r in rows} == {"This is a second item.", "Hello, world!"}

        version_one = await service.add(feed_server.url("/simple-1.json"))
        assert version_one.created and await store.items.count(version_one.feed.id) == 2

        micro = await service.add(feed_server.url("/microblog-1.json"))
        (post,) = await store.items.latest([micro.feed.id], 10)
        assert post.author == "Brent Simmons" and post.url == "https://example.org/2347259"
        assert post.published_at == 1455052920.0  # 2016-02-09T14:22:00-07:00

        podcast = await service.add(feed_server.url("/podcast-1.json"))
        (episode,) = await store.items.latest([podcast.feed.id], 10)
        assert episode.title == "Special #1 - Chris Parrish"
        assert episode.enclosure_url == (
            "http://therecord.co/downloads/The-Record-sp1e1-ChrisParrish.m4a"
        )
        assert (episode.enclosure_type, episode.enclosure_length, episode.duration_s) == (
            "audio/x-m4a",
            89970236,
            6629,
        )
        assert episode.summary.startswith("Brent interviews Chris Parrish")


async def test_a_json_feed_is_hostile_text_like_any_other(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "@everyone \\u202eEvil",'
        ' "items": [{"id": 7, "title": "' + "<b>long</b> " * 100 + '",'
        ' "content_html": "<p>Hi</p><script>alert(1)</script>", "url": "javascript:alert(1)",'
        ' "authors": [{"name": "A\\u0000nn"}], "date_published": "not a date",'
        ' "attachments": [{"url": "file:///etc/passwd", "size_in_bytes": -1}]},'
        ' {"id": true}, "junk", {"id": "x", "title": {"nested": 1}}]}'
    )
    feed_server.set("/hostile.json", body, content_type=JSON_FEED)
    async with feed_service(tmp_path) as (store, service):
        added = await service.add(feed_server.url("/hostile.json"))
        assert "\u202e" not in added.feed.title
        rows = {r.stable_id: r for r in await store.items.latest([added.feed.id], 10)}
        item = rows["7"]
        assert len(item.title) <= 300 and item.title.startswith("<b>long</b>")
        assert item.url is None and item.enclosure_url is None
        assert item.author == "Ann" and "alert" not in item.summary
        assert "x" in rows and len(rows) == 2  # a non-object item and an empty one are skipped


async def test_a_json_feed_is_discovered_from_its_alternate_link(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set(
        "/",
        '<!doctype html><html><head><title>Blog</title><link rel="alternate" '
        'type="application/feed+json" href="/feed.json"></head><body>Hi</body></html>',
        content_type="text/html",
    )
    feed_server.set(
        "/feed.json", (FIXTURES / "simple-1.1.json").read_bytes(), content_type=JSON_FEED
    )
    env = archive_env(tmp_path)
    code, out, _ = await digestbot("feeds", "add", feed_server.url("/"), env=env)
    assert code == 0 and "My Example Feed" in out and "2 items archived" in out
    assert feed_server.url("/feed.json") in out
    code, out, _ = await digestbot("preview", feed_server.url("/feed.json"), env=env)
    assert code == 0 and "Hello, world!" in out and "This is a second item." in out
