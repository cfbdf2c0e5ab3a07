"""The digest composer: grouped by feed, newest first, nothing dropped, every message in limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.discord_message import to_embed
from bot.delivery.terminal import to_text
from bot.features.digest.compose import compose_digest
from bot.features.digest.stories import merge_stories
from bot.model import CONTENT_LIMIT, EMBED_TOTAL_LIMIT, EMBEDS_PER_MESSAGE, ItemView, Message
from bot.model import EMBED_DESCRIPTION_LIMIT as DESCRIPTION_LIMIT
from bot.model import EMBED_TITLE_LIMIT as TITLE_LIMIT

START = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
END = START + timedelta(days=1)
_PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)
_ITEM_URL = re.compile(r"https://feed(\d+)\.example/p/(\d+)\)")
_MORE = re.compile(r"and \*\*(\d+) more\*\* items?")


def make_item(item_id: int, feed_id: int, minutes: int, **extra: object) -> ItemView:
    values: dict[str, object] = {
        "item_id": item_id,
        "feed_id": feed_id,
        "feed_title": f"Feed {feed_id:02d}",
        "feed_url": f"https://feed{feed_id}.example/rss",
        "site_url": f"https://feed{feed_id}.example",
        "title": f"Post number {item_id}",
        "url": f"https://feed{feed_id}.example/p/{item_id}",
        "author": None,
        "published": START + timedelta(minutes=minutes),
        "summary": "Several words of summary " * 20,
        "image_url": None,
        "enclosure_url": None,
        "enclosure_type": None,
        "duration_s": None,
    }
    values.update(extra)
    return ItemView(**values)  # type: ignore[arg-type]


def compose(items: list[ItemView], max_items: int = 50) -> list[Message]:
    return compose_digest(
        items, channel_name="reading", period_start=START, period_end=END, max_items=max_items
    )


def assert_message_limits(messages: list[Message]) -> None:
    for message in messages:
        assert 1 <= len(message.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(len(to_embed(e)) for e in message.embeds) <= EMBED_TOTAL_LIMIT
        assert len(message.content or "") <= CONTENT_LIMIT
        for embed in message.embeds:
            assert len(embed.title or "") <= TITLE_LIMIT
            assert len(embed.description or "") <= DESCRIPTION_LIMIT


def listed_items(messages: list[Message]) -> list[tuple[int, int]]:
    """(feed_id, item_id) of every linked entry, in display order."""
    found: list[tuple[int, int]] = []
    for message in messages:
        for embed in message.embeds:
            for match in _ITEM_URL.finditer(embed.description or ""):
                found.append((int(match.group(1)), int(match.group(2))))
    return found


def more_count(messages: list[Message]) -> int:
    counts = [
        int(m.group(1))
        for message in messages
        for embed in message.embeds
        for m in _MORE.finditer(embed.description or "")
    ]
    assert len(counts) <= 1
    if counts:
        last = messages[-1].embeds[-1].description or ""
        assert _MORE.search(last), "the 'more' note is at the very end"
        assert "/latest" in last and "/search" in last
    return counts[0] if counts else 0


def test_empty_period_sends_nothing() -> None:
    assert compose([]) == []


def test_150_items_every_item_once_or_counted_and_limits_hold() -> None:
    # 150 items over 7 feeds with interleaved publication times.
    items = [make_item(i, feed_id=i % 7, minutes=(i * 37) % 1000) for i in range(150)]
    messages = compose(items)
    assert len(messages) > 1
    assert_message_limits(messages)
    listed = listed_items(messages)
    more = more_count(messages)
    ids = [item_id for _, item_id in listed]
    assert len(ids) == len(set(ids)) == 50
    assert more == 100
    assert len(ids) + more == 150
    # The newest 50 are the ones listed.
    newest = sorted(items, key=lambda it: it.published, reverse=True)[:50]
    assert set(ids) == {it.item_id for it in newest}
    # Grouped by feed in feed order, newest first inside each feed.
    feeds = [feed for feed, _ in listed]
    assert feeds == sorted(feeds)
    by_id = {it.item_id: it for it in items}
    for feed in set(feeds):
        times = [by_id[i].published for f, i in listed if f == feed]
        assert times == sorted(times, reverse=True)
    # Only the first message carries the header.
    assert messages[0].content is not None and "150 new items" in messages[0].content
    assert all(m.content is None for m in messages[1:])


def test_all_items_listed_below_max_and_no_more_note() -> None:
    items = [make_item(i, feed_id=i % 3, minutes=i) for i in range(30)]
    messages = compose(items)
    assert sorted(i for _, i in listed_items(messages)) == list(range(30))
    assert more_count(messages) == 0
    assert_message_limits(messages)


def test_max_items_is_configurable_and_duplicates_count_once() -> None:
    items = [make_item(i, feed_id=1, minutes=i) for i in range(20)]
    messages = compose(items + items[:5], max_items=10)
    assert [i for _, i in listed_items(messages)] == list(range(19, 9, -1))
    assert more_count(messages) == 10


def test_huge_hostile_items_stay_within_limits_and_never_ping() -> None:
    hostile = "@everyone free nitro <@&123> <@456> "
    items = [
        make_item(
            i,
            feed_id=i % 2,
            minutes=i,
            title=hostile * 500,
            summary=hostile * 2000,
            feed_title=hostile * 100,
            url="https://feed0.example/p/" + "x" * 2000,
        )
        for i in range(60)
    ]
    messages = compose(items, max_items=60)
    assert_message_limits(messages)
    total_entries = sum((e.description or "").count(" · <t:") for m in messages for e in m.embeds)
    assert total_entries == 60
    for message in messages:
        assert not _PING.search(message.content or "")
        for embed in message.embeds:
            assert not _PING.search(embed.title or "")
            assert not _PING.search(embed.description or "")


def test_entry_has_link_summary_and_timestamp() -> None:
    item = make_item(1, feed_id=3, minutes=5, summary="One line\nsummary here.")
    messages = compose([item])
    assert len(messages) == 1 and len(messages[0].embeds) == 1
    embed = messages[0].embeds[0]
    assert embed.title == "Feed 03"
    assert embed.url == "https://feed3.example"
    stamp = int(item.published.timestamp())
    assert embed.description == (
        f"**[Post number 1](https://feed3.example/p/1)** · <t:{stamp}:R>\nOne line summary here."
    )


def test_unsafe_item_url_is_not_linked() -> None:
    item = make_item(1, feed_id=1, minutes=0, url="javascript:alert(1)")
    description = compose([item])[0].embeds[0].description or ""
    assert "javascript" not in description
    assert description.startswith("**Post number 1** · <t:")


def test_long_feed_is_continued_in_another_embed() -> None:
    items = [make_item(i, feed_id=1, minutes=i, summary="word " * 100) for i in range(40)]
    messages = compose(items)
    titles = [e.title for m in messages for e in m.embeds]
    assert titles[0] == "Feed 01"
    assert len(titles) > 1
    assert all(t == "Feed 01 (continued)" for t in titles[1:])
    assert_message_limits(messages)


@pytest.mark.parametrize("count", [1, 9, 10, 11, 75])
def test_deterministic(count: int) -> None:
    items = [make_item(i, feed_id=i % 4, minutes=i % 13) for i in range(count)]
    first = [([to_embed(e).to_dict() for e in m.embeds], m.content) for m in compose(items)]
    second = [([to_embed(e).to_dict() for e in m.embeds], m.content) for m in compose(items[::-1])]
    assert first == second


def test_digest_text_for_console() -> None:
    items = [make_item(i, feed_id=1, minutes=i, title=f"Post *{i}*") for i in range(3)]
    items.append(make_item(99, feed_id=2, minutes=0))
    text = "\n\n".join(to_text(message) for message in compose(items, max_items=3))
    assert "Digest for #reading" in text
    assert "\nFeed 01\n" in text
    assert "Post *2* <https://feed1.example/p/2> · May 1, 2024, 7:02:00\u202fAM UTC" in text
    assert "<t:" not in text
    assert "1 more" in text


def test_a_digest_lists_two_feeds_items_naming_one_canonical_url_as_one_story() -> None:
    """Different links and texts, the same rel=canonical (once behind tracking parameters):
    one entry, the later item listed under it."""
    canonical = "https://www.origin.example/2024/chip-rules/"
    first = make_item(1, 1, 0, canonical_url=canonical)
    second = make_item(
        2, 2, 5, summary="Another letter's own words. " * 20, canonical_url=canonical + "?utm_x=1"
    )
    listed, also = merge_stories([first, second])
    assert [item.item_id for item in listed] == [1]
    assert [item.item_id for item in also[1]] == [2]
