"""Feed errors reach a member in the member's language: the English sentence stored as a feed's
last error (and in a failing-feed notice) is put back in the reader's language where shown,
and so is the error a failed /feed add answers with."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.features.feeds.render import render_add_failed, render_archive
from bot.features.posts.notices import failing_payload, render_notice
from bot.i18n import _, use_locale
from bot.ingest.errors import _TEMPLATES, FeedError, feed_error_text
from tests.feedserver import FeedServer, rss_feed
from tests.integration.test_pipeline import Archive, open_archive

MOVED_JA = (
    "に 404 Not Found を返しました。"
    "アドレスを確認してください（フィードが移転したのかもしれません）"
)


@pytest_asyncio.fixture
async def archive(tmp_path: Path, feed_server: FeedServer) -> AsyncIterator[Archive]:
    opened = await open_archive(tmp_path, feed_server)
    yield opened
    await opened.fetcher.close()
    await opened.store.close()


async def test_a_stored_feed_error_is_shown_in_the_readers_language(archive: Archive) -> None:
    archive.server.set("/f", rss_feed([{"title": "One", "link": "https://example.com/1"}]))
    added = await archive.service.add(archive.server.url("/f"))
    archive.server.set("/f", "gone", status=404, content_type="text/plain")
    outcome = await archive.pipeline.poll(await archive.feed(added.feed.id))
    assert outcome.error is not None
    row = await archive.feed(added.feed.id)
    stored = row.last_error
    assert stored is not None and stored.startswith("the server answered 404 Not Found for ")
    payload = failing_payload("Pod", polls=3, since=1700000000, error=stored)
    with use_locale("ja"):
        notice = render_notice(payload)
        listed = render_archive([(row, 1)]).content
    assert notice is not None and notice.content is not None
    assert f"サーバーは {archive.server.url('/f')} {MOVED_JA}" in notice.content
    assert listed is not None and MOVED_JA in listed and "server answered" not in listed
    english = render_notice(payload)
    assert english is not None and english.content is not None and stored in english.content


async def test_a_failed_feed_add_answers_in_the_members_language(archive: Archive) -> None:
    archive.server.set("/gone", "gone", status=404, content_type="text/plain")
    with pytest.raises(FeedError) as refused:
        await archive.service.add(archive.server.url("/gone"))
    with use_locale("ja"):
        answer = render_add_failed(refused.value.message).content
    assert answer is not None and MOVED_JA in answer and "server answered" not in answer
    assert "the server answered 404" in (render_add_failed(refused.value.message).content or "")


def test_every_error_template_is_found_again_from_its_english() -> None:
    """Filled with values, each template's English is translated with the same values: no
    template takes another's sentence (one that begins another is tried after it)."""
    for template in _TEMPLATES:
        values = {name: f"<{name}-v>" for name in re.findall(r"\{(\w+)\}", template)}
        english = template.format(**values)
        with use_locale("ja"):
            assert feed_error_text(english) == _(template, **values), template
        assert feed_error_text(english) == english
    assert feed_error_text("a third party's own words") == "a third party's own words"
