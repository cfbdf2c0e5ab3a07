"""One feed is one feed (issue 19, item 5): a feed typed another way (tracking parameters,
repeated slashes, case, default port) or reached at an alias that names its own address is the
feed already archived, never a second copy. Through the `digestbot` CLI and the feed service,
on a real SQLite file and a loopback feed server."""

from __future__ import annotations

from pathlib import Path

from bot.ingest.urls import normalize_feed_url
from tests.feedserver import FeedServer, rss_feed
from tests.integration.test_cli import archive_env, digestbot
from tests.integration.test_feed_documents import feed_service


def letter(self_url: str | None = None) -> str:
    self_link = (
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{self_url}"/>'
        if self_url
        else ""
    )
    return rss_feed(
        [
            {"title": f"Post {n}", "guid": f"post-{n}", "link": f"https://l.example.com/{n}"}
            for n in (3, 2, 1)
        ],
        title="The Letter",
        extra_channel=self_link,
    )


async def test_a_feed_typed_another_way_is_the_feed_already_archived(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = archive_env(tmp_path)
    feed_server.set("/feed.xml", letter())
    plain = feed_server.url("/feed.xml")
    code, out, _ = await digestbot("feeds", "add", plain, env=env)
    assert code == 0 and "3 items archived" in out
    copies = [
        plain + "?utm_source=x&utm_medium=email",
        feed_server.url("//feed.xml"),
        plain.replace("http://", "HTTP://") + "#top",
    ]
    for copy in copies:
        code, out, _ = await digestbot("feeds", "add", copy, env=env)
        assert code == 0 and f"Already in the archive: The Letter <{plain}>" in out, copy
    assert feed_server.hits("/feed.xml") == 1  # a known feed is not even fetched again
    code, out, _ = await digestbot("feeds", "list", env=env)
    assert out.count("The Letter") == 1 and "3 items" in out


async def test_a_feed_that_names_its_own_address_on_its_host_is_stored_there_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    own = feed_server.url("/feed/")
    for alias in ("/feed/", "/", "/index.php"):
        feed_server.set(alias, letter(self_url=own))
    async with feed_service(tmp_path) as (store, service):
        first = await service.add(feed_server.url("/?feed=rss2"))
        assert first.created and first.feed.url == own
        for alias in ("/feed/", "/index.php?feed=rss2", "/?feed=rss2&utm_campaign=z"):
            again = await service.add(feed_server.url(alias))
            assert not again.created and again.feed.id == first.feed.id, alias
        assert await store.items.count() == 3
        # A self link on another host is not trusted (a feed cannot take itself for someone
        # else's), nor one on its own host that does not work (a stale link: 404 there).
        feed_server.set("/impostor.xml", letter(self_url="https://victim.example.org/feed"))
        feed_server.set("/moved.xml", letter(self_url=feed_server.url("/gone.xml")))
        impostor = await service.add(feed_server.url("/impostor.xml"))
        moved = await service.add(feed_server.url("/moved.xml"))
        assert impostor.created and impostor.feed.url == feed_server.url("/impostor.xml")
        assert moved.created and moved.feed.url == feed_server.url("/moved.xml")


async def test_feeds_stored_before_the_rules_keep_working_and_are_found(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/feed.xml", letter())
    legacy_url = feed_server.url("/feed.xml") + "?utm_source=old&utm_medium=mail"
    assert normalize_feed_url(legacy_url) != legacy_url
    async with feed_service(tmp_path) as (store, service):
        # A row as an older digestbot stored it (its normalization kept these).
        legacy = await store.feeds.add(legacy_url, interval_s=900, now=0, first_poll_at=0)
        found = await service.add(feed_server.url("/feed.xml"))
        assert not found.created and found.feed.id == legacy.id and found.discovered
        assert [feed.url for feed in await store.feeds.all()] == [legacy_url]
    code, out, _ = await digestbot(
        "poll", "--once", env=archive_env(tmp_path) | {"DIGESTBOT_DB": str(tmp_path / "bot.db")}
    )
    assert code == 0 and "3 new" in out  # the old row is polled at its old address
