"""The whole ingest path on real parts: loopback HTTP feed → fetch → parse → enrich → SQLite."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from bot.config import FetchAllowList, Settings
from bot.features.feeds.service import BadFeedURLError, FeedService
from bot.ingest import pipeline as pipeline_module
from bot.ingest.errors import FeedError
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline
from bot.model import FeedRow
from bot.store import Store
from tests.feedserver import (
    FeedServer,
    atom_feed,
    drip_handler,
    gzip_handler,
    rdf_feed,
    redirect_to,
    rss_feed,
    without_validators,
)
from tests.integration.search_fixtures import index_matches

ALLOW_LOOPBACK = FetchAllowList.parse("127.0.0.1/32")


def letter(*posts: tuple[str, str]) -> str:
    """A newsletter whose posts are (guid, body text), newest first."""
    return rss_feed(
        [
            {
                "title": f"Post {guid}",
                "link": f"https://letter.example.com/p/{guid}",
                "guid": guid,
                "content": f"<p>{text}</p>",
                "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT",
            }
            for guid, text in posts
        ],
        title="The Letter",
    )


@dataclasses.dataclass
class Archive:
    store: Store
    fetcher: FeedFetcher
    pipeline: FeedPipeline
    service: FeedService
    server: FeedServer

    async def feed(self, feed_id: int) -> FeedRow:
        row = await self.store.feeds.get(feed_id)
        assert row is not None
        return row

    async def snapshot(self) -> list[tuple[Any, ...]]:
        async with self.store.db.reader.execute(
            "SELECT id, stable_id, title, content_text, summary FROM items ORDER BY id"
        ) as cursor:
            return [tuple(r) for r in await cursor.fetchall()]


async def open_archive(tmp_path: Path, server: FeedServer, **overrides: Any) -> Archive:
    settings = Settings(
        **({"db_path": tmp_path / "a.db", "fetch_allow": ALLOW_LOOPBACK} | overrides)
    )
    store = await Store.open(settings.db_path)
    fetcher = FeedFetcher(settings)
    pipeline = FeedPipeline(store, fetcher)
    return Archive(
        store, fetcher, pipeline, FeedService(store, fetcher, pipeline, settings), server
    )


@pytest_asyncio.fixture
async def archive(tmp_path: Path, feed_server: FeedServer) -> AsyncIterator[Archive]:
    opened = await open_archive(tmp_path, feed_server)
    yield opened
    await opened.fetcher.close()
    await opened.store.close()


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real: Callable[..., Any] = pipeline_module.parse_feed_bounded

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(pipeline_module, "parse_feed_bounded", counting)
    return calls


async def test_same_feed_twice_adds_nothing(archive: Archive) -> None:
    archive.server.set("/f", letter(("b", "Second body."), ("a", "First body.")))
    added = await archive.service.add(archive.server.url("/f"))
    assert added.created and added.outcome is not None
    assert len(added.outcome.new_item_ids) == 2
    again = await archive.pipeline.poll(without_validators(await archive.feed(added.feed.id)))
    assert again.error is None and again.new_item_ids == [] and again.updated_item_ids == []
    assert await archive.store.items.count() == 2
    # Adding the same URL (written differently) finds the stored feed without fetching.
    hits = archive.server.hits("/f")
    same = await archive.service.add(archive.server.url("/f").replace("http://", "HTTP://"))
    assert not same.created and same.feed.id == added.feed.id
    assert archive.server.hits("/f") == hits


async def test_edited_item_updates_the_archive_and_is_not_new(archive: Archive) -> None:
    archive.server.set("/f", letter(("a", "Original wording.")))
    added = await archive.service.add(archive.server.url("/f"))
    archive.server.set("/f", letter(("a", "Corrected wording about zeppelins.")))
    outcome = await archive.pipeline.poll(await archive.feed(added.feed.id))
    assert outcome.new_item_ids == [] and len(outcome.updated_item_ids) == 1
    assert await index_matches(archive.store.db, '"zeppelins"') == outcome.updated_item_ids
    assert await index_matches(archive.store.db, '"original"') == []


async def test_304_and_unchanged_200_cost_no_parse(
    archive: Archive, parse_calls: list[int]
) -> None:
    archive.server.set("/etag", letter(("a", "Body.")), etag='"v1"')
    archive.server.set("/plain", letter(("a", "Body.")))
    first = await archive.service.add(archive.server.url("/etag"))
    second = await archive.service.add(archive.server.url("/plain"))
    parses = len(parse_calls)
    not_modified = await archive.pipeline.poll(await archive.feed(first.feed.id))
    unchanged = await archive.pipeline.poll(await archive.feed(second.feed.id))
    assert not_modified.not_modified and unchanged.not_modified
    assert archive.server.requests("/etag")[-1].get("If-None-Match") == '"v1"'
    assert len(parse_calls) == parses
    # A changed body is parsed again.
    archive.server.set("/plain", letter(("b", "New."), ("a", "Body.")))
    changed = await archive.pipeline.poll(await archive.feed(second.feed.id))
    assert len(changed.new_item_ids) == 1 and len(parse_calls) == parses + 1


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><rss version="2.0"><channel><title>&d;'
    "</title><item><title>&d;</title><guid>x</guid></item></channel></rss>"
)


def hostile_cases(server: FeedServer) -> dict[str, Callable[[], None]]:
    big = b"<rss>" + b"x" * (50 * 1024 * 1024)
    bomb = b"<rss>" + b"\0" * (64 * 1024 * 1024)
    return {
        "billion laughs": lambda: server.set("/f", BILLION_LAUGHS),
        "50 MiB body": lambda: server.set("/f", big),
        "gzip bomb": lambda: server.set_handler("/f", gzip_handler(bomb)),
        "redirect loop": lambda: server.set_handler("/f", redirect_to("/f")),
        "redirect to 127.0.0.2": lambda: server.set_handler(
            "/f", redirect_to(f"http://127.0.0.2:{server.port}/f")
        ),
        "redirect to [::1]": lambda: server.set_handler(
            "/f", redirect_to(f"http://[::1]:{server.port}/f")
        ),
        "redirect to file://": lambda: server.set_handler("/f", redirect_to("file:///etc/passwd")),
        "drip past the time cap": lambda: server.set_handler(
            "/f", drip_handler([b"<rss>"] * 10, 0.3)
        ),
        "an HTML page": lambda: server.set(
            "/f", "<!DOCTYPE html><html><body>Hi</body></html>", content_type="text/html"
        ),
        "invalid XML": lambda: server.set("/f", '{"not": "xml"} <<<', content_type="text/xml"),
        "a 500": lambda: server.set("/f", "oops", status=500),
    }


@pytest.mark.parametrize("case", list(hostile_cases(FeedServer()).keys()))
async def test_hostile_input_is_a_clear_error_and_leaves_the_archive_as_it_was(
    tmp_path: Path, feed_server: FeedServer, case: str
) -> None:
    archive = await open_archive(tmp_path, feed_server, fetch_timeout_s=1.5)
    try:
        feed_server.set("/f", letter(("a", "Kept body.")))
        added = await archive.service.add(feed_server.url("/f"))
        before = await archive.snapshot()
        hostile_cases(feed_server)[case]()
        outcome = await archive.pipeline.poll(without_validators(await archive.feed(added.feed.id)))
        assert isinstance(outcome.error, FeedError), outcome
        assert len(outcome.error.message) > 15
        assert await archive.snapshot() == before
        feed = await archive.feed(added.feed.id)
        assert feed.consecutive_errors == 1 and feed.last_error == outcome.error.message
    finally:
        await archive.fetcher.close()
        await archive.store.close()


async def test_localhost_name_is_refused_when_loopback_is_not_allowed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    archive = await open_archive(tmp_path, feed_server, fetch_allow=FetchAllowList())
    try:
        feed_server.set("/f", letter(("a", "Body.")))
        with pytest.raises(FeedError, match=r"(?i)loopback|private|internal"):
            await archive.service.add(f"http://localhost:{feed_server.port}/f")
        assert await archive.store.feeds.all() == []
        assert feed_server.hits("/f") == 0
    finally:
        await archive.fetcher.close()
        await archive.store.close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed.xml", "not a url"])
async def test_unsupported_urls_are_refused(archive: Archive, url: str) -> None:
    with pytest.raises(BadFeedURLError):
        await archive.service.add(url)
    assert await archive.store.feeds.all() == []


async def test_five_thousand_items_within_the_caps(archive: Archive) -> None:
    posts = [(f"g{n}", f"Body number {n}.") for n in range(5000)]
    archive.server.set("/big", letter(*posts))
    added = await archive.service.add(archive.server.url("/big"))
    assert added.outcome is not None and len(added.outcome.new_item_ids) == 5000
    assert await archive.store.items.count() == 5000


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("windows-1252", "Café – “quotes”"), ("shift_jis", "自動更新のお知らせ")],
)
async def test_legacy_encodings_end_to_end(archive: Archive, encoding: str, title: str) -> None:
    body = rss_feed(
        [{"title": title, "guid": "x", "content": f"<p>{title}</p>"}], encoding=encoding
    )
    archive.server.set("/enc", body.encode(encoding), content_type="application/xml")
    added = await archive.service.add(archive.server.url("/enc"))
    assert added.outcome is not None
    (row,) = await archive.store.items.many(added.outcome.new_item_ids)
    assert row.title == title


async def test_site_url_discovers_its_feed(archive: Archive) -> None:
    archive.server.set("/feed.xml", letter(("a", "Body.")))
    archive.server.set(
        "/",
        '<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
        'href="/feed.xml"></head><body>blog</body></html>',
        content_type="text/html",
    )
    added = await archive.service.add(archive.server.url("/"))
    assert added.feed.url == archive.server.url("/feed.xml")
    assert added.feed.title == "The Letter"


@pytest.mark.parametrize("kind", ["atom", "rss1"])
async def test_atom_and_rss1_end_to_end(archive: Archive, kind: str) -> None:
    if kind == "atom":
        body = atom_feed(
            [
                {
                    "title": "Atom post",
                    "link": "https://a.example.com/1",
                    "id": "urn:a:1",
                    "content": "<p>Atom body about zeppelins.</p>",
                }
            ],
            title="Atom Letter",
        )
        content_type = "application/atom+xml"
    else:
        body = rdf_feed(
            [
                {
                    "title": "RDF post",
                    "link": "https://r.example.com/1",
                    "description": "RDF body about zeppelins.",
                }
            ],
            title="RDF Letter",
        )
        content_type = "application/rdf+xml"
    archive.server.set("/f", body, content_type=content_type)
    added = await archive.service.add(archive.server.url("/f"))
    assert added.outcome is not None and len(added.outcome.new_item_ids) == 1
    assert await index_matches(archive.store.db, '"zeppelins"') == added.outcome.new_item_ids
    assert added.feed.title in ("Atom Letter", "RDF Letter")


async def test_an_unexpected_error_is_a_recorded_failure_not_an_escape(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug tripped by one feed's content (here: the text stage raising) must not escape the
    poll: the feed gets a failure with its backoff (else the poller would re-poll it at once,
    forever) and a later good poll archives the items."""
    archive.server.set("/f", letter(("a", "First body.")))
    added = await archive.service.add(archive.server.url("/f"))
    archive.server.set("/f", letter(("b", "Second body."), ("a", "First body.")))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline_module, "enrich_entries", broken)
    before = await archive.feed(added.feed.id)
    outcome = await archive.pipeline.poll(before)
    assert isinstance(outcome.error, FeedError) and "RuntimeError" in outcome.error.message
    after = await archive.feed(added.feed.id)
    assert after.consecutive_errors == 1 and after.last_error == outcome.error.message
    assert after.next_poll_at > before.next_poll_at
    assert await archive.store.items.count() == 1
    monkeypatch.undo()
    recovered = await archive.pipeline.poll(after)
    assert recovered.error is None and len(recovered.new_item_ids) == 1


async def test_a_304_without_validators_keeps_the_stored_ones(archive: Archive) -> None:
    """Some servers send a bare 304 (no ETag header): the feed's stored ETag must survive it,
    or every other poll would be an unconditional full download."""
    body = letter(("a", "Body."))

    async def bare_304(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(text=body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    archive.server.set_handler("/f", bare_304)
    added = await archive.service.add(archive.server.url("/f"))
    for _ in range(2):
        outcome = await archive.pipeline.poll(await archive.feed(added.feed.id))
        assert outcome.not_modified
    assert [r.get("If-None-Match") for r in archive.server.requests("/f")] == [None, '"v1"', '"v1"']
    assert (await archive.feed(added.feed.id)).etag == '"v1"'
