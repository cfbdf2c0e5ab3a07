"""OPML: parse (flattened, deduplicated, hostile files refused clearly), export → import
round-trips, and importing 30 loopback feeds (some broken) with a per-feed report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import FetchAllowList, Settings
from bot.features.feeds.opml import (
    MAX_OPML_FEEDS,
    ImportResult,
    OpmlError,
    OpmlFeed,
    export_opml,
    import_opml,
    import_report,
    parse_opml,
)
from bot.features.feeds.service import FeedService
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.store import Store
from tests.deliveryfakes import until
from tests.feedserver import FeedServer, rss_feed

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Tech">
      <outline text="Alpha" title="Alpha Weekly" type="rss" xmlUrl="https://alpha.example/feed"
               htmlUrl="https://alpha.example/"/>
      <outline text="Deeper">
        <outline text="Beta" xmlurl="https://beta.example/rss"/>
      </outline>
    </outline>
    <outline text="Gamma &amp; friends" xmlUrl="https://gamma.example/atom.xml"/>
    <outline text="Alpha again" xmlUrl="https://alpha.example/feed"/>
    <outline text="A folder only"/>
  </body>
</opml>
"""


def outlines(count: int, url: str = "https://f{n}.example/feed") -> bytes:
    rows = "".join(
        f'<outline type="rss" text="Feed {n}" xmlUrl="{url.format(n=n)}"/>' for n in range(count)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><body>{rows}</body></opml>'.encode()


def test_nested_outlines_are_flattened_in_order_without_duplicates() -> None:
    feeds = parse_opml(NESTED)
    assert feeds == [
        OpmlFeed("Alpha Weekly", "https://alpha.example/feed", "https://alpha.example/"),
        OpmlFeed("Beta", "https://beta.example/rss", None),
        OpmlFeed("Gamma & friends", "https://gamma.example/atom.xml", None),
    ]


def test_billion_laughs_is_refused_without_expanding() -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
            for i in range(1, 10)
        )
        + b']>\n<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://x.example/"/>'
        b"</body></opml>"
    )
    with pytest.raises(OpmlError, match="DTD or entities"):
        parse_opml(bomb)


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE opml [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        '<opml version="2.0"><body><outline text="&xxe;" xmlUrl="https://x.example/"/>'
        "</body></opml>"
    ).encode()
    with pytest.raises(OpmlError, match="refused for safety") as caught:
        parse_opml(xxe)
    assert "TOP-SECRET" not in str(caught.value)


def test_a_ten_mib_file_is_refused_before_parsing() -> None:
    big = outlines(1) + b" " * (10 * 1024 * 1024)
    with pytest.raises(OpmlError, match=r"10\.0 MiB; the limit is 1\.0 MiB"):
        parse_opml(big)


def test_ten_thousand_outlines_are_refused_with_the_count() -> None:
    data = outlines(10_000)
    assert len(data) < 1024 * 1024  # refused for the feed count, not the size
    with pytest.raises(OpmlError, match=f"lists 10000 feeds; at most {MAX_OPML_FEEDS}"):
        parse_opml(data)
    assert len(parse_opml(outlines(MAX_OPML_FEEDS))) == MAX_OPML_FEEDS


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"this is not xml at all", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not well-formed XML"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "top element is <rss>"),
        (b'<opml version="2.0"><body><outline text="folder"/></body></opml>', "lists no feeds"),
    ],
)
def test_files_that_are_not_opml_are_refused_clearly(data: bytes, expected: str) -> None:
    with pytest.raises(OpmlError, match=expected):
        parse_opml(data)


def test_export_then_import_round_trips_hostile_titles() -> None:
    feeds = [
        OpmlFeed("Plain", "https://plain.example/feed", "https://plain.example/"),
        OpmlFeed('Quotes "and" <tags> & ampersands', "https://q.example/rss?a=1&b=2", None),
        OpmlFeed("Ünïcödé 日本語 🎉", "https://u.example/feed", "https://u.example/"),
        OpmlFeed("Control\x00chars\x1b[31m", "https://c.example/feed", None),
    ]
    document = export_opml(feeds, "Guild & <friends>")
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    back = parse_opml(document)
    assert [f.xml_url for f in back] == [f.xml_url for f in feeds]
    assert [f.html_url for f in back] == [f.html_url for f in feeds]
    assert [f.title for f in back[:3]] == [f.title for f in feeds[:3]]
    assert back[3].title == "Controlchars[31m"  # controls cannot travel in XML: dropped


async def test_import_calls_add_with_bounded_concurrency_and_reports_each_feed() -> None:
    feeds = [OpmlFeed(f"F{n}", f"https://f{n}.example/feed") for n in range(12)]
    running = 0
    peak = 0
    progress: list[tuple[int, int]] = []

    class Added:
        def __init__(self, created: bool) -> None:
            self.created = created

    class Refused(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message

    async def add(url: str) -> Added:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)  # a yield: the others the gate lets in start meanwhile
        running -= 1
        number = int(url.split("//f")[1].split(".")[0])
        if number % 5 == 0:
            raise Refused(f"the server answered 404 for {url}")
        return Added(created=number % 3 != 0)

    async def on_progress(done: int, total: int) -> None:
        progress.append((done, total))

    results = await import_opml(feeds, add, progress=on_progress, concurrency=3)
    assert peak == 3
    assert [r.feed for r in results] == feeds
    assert progress == [(n, 12) for n in range(1, 13)]
    for number, result in enumerate(results):
        if number % 5 == 0:
            assert result.status == "failed"
            assert result.detail == f"the server answered 404 for https://f{number}.example/feed"
        else:
            assert result.status == ("added" if number % 3 else "already")
    report = import_report(results)
    assert report[-1] == "6 added, 3 already there, 3 failed"


async def test_a_failing_progress_callback_does_not_stop_the_import() -> None:
    added: list[str] = []

    async def add(url: str) -> bool:
        added.append(url)
        return True

    async def broken_progress(done: int, total: int) -> None:
        raise RuntimeError("Discord said no")

    feeds = [OpmlFeed(f"F{n}", f"https://f{n}.example/feed") for n in range(5)]
    results = await import_opml(feeds, add, progress=broken_progress)
    assert [r.status for r in results] == ["added"] * 5
    assert sorted(added) == sorted(f.xml_url for f in feeds)


async def test_cancelling_an_import_leaves_no_add_running() -> None:
    started: list[str] = []
    cancelled: list[str] = []
    never = asyncio.Event()

    async def add(url: str) -> bool:
        started.append(url)
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(url)
            raise
        return True

    feeds = [OpmlFeed(f"F{n}", f"https://f{n}.example/feed") for n in range(20)]
    task = asyncio.create_task(import_opml(feeds, add, concurrency=4))
    await until(lambda: len(started) == 4, what="four adds in flight")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(started) == 4  # nothing new started after the cancel
    # The adds in flight were cancelled, not left running.
    assert sorted(cancelled) == sorted(started)


@pytest_asyncio.fixture
async def archive(tmp_path: Path) -> AsyncIterator[tuple[Store, FeedService]]:
    settings = Settings(fetch_allow=FetchAllowList.parse("127.0.0.1/32"), fetch_timeout_s=5)
    store = await Store.open(tmp_path / "bot.db")
    fetcher = FeedFetcher(settings)
    try:
        yield store, FeedService(store, fetcher, FeedPipeline(store, fetcher), settings)
    finally:
        await fetcher.close()
        await store.close()


async def test_thirty_loopback_feeds_with_some_broken_get_a_per_feed_report(
    feed_server: FeedServer, archive: tuple[Store, FeedService]
) -> None:
    store, service = archive
    broken: dict[int, str] = {}
    for n in range(30):
        path = f"/feeds/{n}.xml"
        if n % 7 == 3:
            broken[n] = "404"  # not served at all
        elif n % 7 == 5:
            feed_server.set(
                path, "<html><body>No feed here</body></html>", content_type="text/html"
            )
            broken[n] = "feed"
        elif n == 6:
            feed_server.set(path, "oops", status=500)
            broken[n] = "500"
        else:
            items = [
                {"title": f"Post {n}.{i}", "link": f"https://s{n}.example/{i}"} for i in range(2)
            ]
            feed_server.set(path, rss_feed(items, title=f"Site {n}"))
    # One feed is in the archive already.
    await service.add(feed_server.url("/feeds/0.xml"))
    feeds = parse_opml(
        export_opml(
            [OpmlFeed(f"Site {n}", feed_server.url(f"/feeds/{n}.xml")) for n in range(30)]
            + [OpmlFeed("Not a URL", "javascript:alert(1)")],
            "test",
        )
    )
    assert len(feeds) == 31
    results: list[ImportResult] = await import_opml(feeds, service.add)
    by_number = {n: results[n] for n in range(30)}
    assert by_number[0].status == "already"
    for n, result in by_number.items():
        if n in broken:
            assert result.status == "failed", (n, result)
            assert result.detail
            if broken[n] in ("404", "500"):
                assert broken[n] in result.detail, result.detail
        elif n:
            assert result.status == "added", (n, result)
    assert results[30].status == "failed" and results[30].detail
    archived = {f.url for f in await store.feeds.all()}
    working = {feed_server.url(f"/feeds/{n}.xml") for n in range(30) if n not in broken}
    assert archived == working
    assert await store.items.count() == 2 * len(working)
    report = import_report(results)
    assert report[-1] == f"{len(working) - 1} added, 1 already there, {len(broken) + 1} failed"
    # Importing the same file again: nothing new, the broken ones still fail.
    again = await import_opml(feeds, service.add)
    assert {r.status for n, r in enumerate(again) if n < 30 and n not in broken} == {"already"}
