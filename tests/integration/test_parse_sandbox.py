"""The parse sandbox: a worker process bounded in time and memory; one bad feed costs only
itself, and the next feed still parses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.ingest.errors import NotAFeedError, ParseError
from bot.ingest.sandbox import ParseSandbox
from tests.feedserver import rss_feed
from tests.unit.test_parse import HOSTILE_PROLOGS, REFUSED

GOOD = rss_feed([{"title": "still here", "guid": "g"}]).encode()


@pytest.fixture
def sandbox() -> Iterator[ParseSandbox]:
    box = ParseSandbox(
        timeout_s=3, memory_bytes=256 * 2**20, workers=1, target="tests.hostileparse:parse"
    )
    try:
        yield box
    finally:
        box.close()


def test_a_parse_that_never_ends_is_cut_off_and_the_next_feed_parses(
    sandbox: ParseSandbox,
) -> None:
    first = sandbox.parse(GOOD, {}, None)
    (stuck,) = sandbox._idle
    with pytest.raises(ParseError, match="longer than 3 s"):
        sandbox.parse(b"spin", {}, None)
    assert stuck.process.poll() is not None  # killed, not left spinning
    assert [e.title for e in sandbox.parse(GOOD, {}, None).entries] == ["still here"]
    assert first.entries[0].title == "still here"


def test_a_parse_that_eats_memory_is_stopped_and_the_next_feed_parses(
    sandbox: ParseSandbox,
) -> None:
    with pytest.raises(ParseError, match="more than 256 MiB"):
        sandbox.parse(b"hog", {}, None)
    assert [e.title for e in sandbox.parse(GOOD, {}, None).entries] == ["still here"]


@pytest.mark.parametrize("name", sorted(HOSTILE_PROLOGS))
def test_hostile_entity_feeds_are_answered_within_the_bound(
    sandbox: ParseSandbox, name: str
) -> None:
    if name in REFUSED:
        with pytest.raises(ParseError, match="declares its own XML entities"):
            sandbox.parse(HOSTILE_PROLOGS[name], {}, None)
    else:
        feed = sandbox.parse(HOSTILE_PROLOGS[name], {}, None)
        assert [e.title for e in feed.entries] == ["one", "two"]


def test_not_a_feed_and_junk_come_back_as_the_same_errors(sandbox: ParseSandbox) -> None:
    with pytest.raises(NotAFeedError, match="web page"):
        sandbox.parse(b"<!DOCTYPE html><html><body>hi</body></html>", {}, None)
    with pytest.raises(ParseError, match="does not serve a readable"):
        sandbox.parse(b"\x00\x01 not xml {", {}, None)
    assert sandbox.parse(GOOD, {}, None).entries[0].stable_id == "g"
