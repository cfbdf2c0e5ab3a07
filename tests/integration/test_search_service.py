"""SearchService on a real SQLite archive: guild scoping, since, author, feeds, paging, latest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from bot.features.search.render import render_results
from bot.features.search.service import (
    LATEST_MAX,
    PAGE_SIZE,
    SearchInputError,
    SearchService,
    empty_answer,
    parse_since,
)
from bot.store import Store
from tests.integration.search_fixtures import NOW, add_feed, add_items, make_item

DAY = 86400.0
GUILD_A, GUILD_B, GUILD_EMPTY = 100, 200, 300


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_target)
    yield opened
    await opened.close()


async def _subscribe(store: Store, guild_id: int, channel_id: int, feed_id: int) -> None:
    await store.subscriptions.add(guild_id, channel_id, feed_id, now=NOW)


@pytest.fixture
async def world(store: Store) -> dict[str, int]:
    """Guild A follows "alpha" (two channels) and "gamma"; guild B follows "beta"."""
    alpha = await add_feed(store.db, "alpha")
    beta = await add_feed(store.db, "beta")
    gamma = await add_feed(store.db, "gamma")
    await add_items(
        store.db,
        alpha,
        [
            make_item("a-old", "Rust compilers", "rust borrow checker", published=NOW - 40 * DAY),
            make_item("a-mid", "Rust in the kernel", "rust drivers", published=NOW - 10 * DAY),
            make_item(
                "a-new",
                "Rust async",
                "rust tokio runtime",
                author="Jane Doe",
                published=NOW - 2 * DAY,
            ),
        ],
    )
    await add_items(
        store.db,
        beta,
        [make_item("b-1", "Rust for secret guild B", "rust only in beta", published=NOW - DAY)],
    )
    await add_items(
        store.db,
        gamma,
        [make_item("g-1", "Gardening with rust-proof tools", "rust", published=NOW - 5 * DAY)],
    )
    await _subscribe(store, GUILD_A, 11, alpha)
    await _subscribe(store, GUILD_A, 12, alpha)
    await _subscribe(store, GUILD_A, 11, gamma)
    await _subscribe(store, GUILD_B, 21, beta)
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def _service(store: Store) -> SearchService:
    return SearchService(store, clock=lambda: NOW)


# ---- since ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - 7 * DAY),
        ("7D", NOW - 7 * DAY),
        (" 2w ", NOW - 14 * DAY),
        ("3 days", NOW - 3 * DAY),
        ("1week", NOW - 7 * DAY),
    ],
)
def test_since_spans_in_days_and_weeks(text: str, expected: float) -> None:
    assert parse_since(text, NOW) == expected


def test_since_months_and_years_are_calendar_months() -> None:
    now = datetime(2024, 5, 31, 12, 0, tzinfo=UTC).timestamp()
    assert parse_since("3m", now) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC).timestamp()
    assert parse_since("1m", now) == datetime(2024, 4, 30, 12, 0, tzinfo=UTC).timestamp()
    assert parse_since("14m", now) == datetime(2023, 3, 31, 12, 0, tzinfo=UTC).timestamp()
    assert parse_since("1y", now) == datetime(2023, 5, 31, 12, 0, tzinfo=UTC).timestamp()
    # Longer ago than the epoch: everything.
    assert parse_since("99999m", now) == 0.0
    assert parse_since("99999d", now) == 0.0


def test_since_date_is_midnight_utc() -> None:
    assert parse_since("2023-11-01", NOW) == datetime(2023, 11, 1, tzinfo=UTC).timestamp()
    assert parse_since("2023-1-5", NOW) == datetime(2023, 1, 5, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "text",
    ["", "7", "d", "7x", "-7d", "7.5d", "yesterday", "2023-02-30", "2023-13-01", "0d", "1e3d"],
)
def test_bad_since_is_a_clear_error(text: str) -> None:
    with pytest.raises(SearchInputError) as raised:
        parse_since(text, NOW)
    assert "since" in raised.value.message


def test_since_date_in_the_future_is_refused() -> None:
    with pytest.raises(SearchInputError, match="future"):
        parse_since("2099-01-01", NOW)


# ---- scoping -------------------------------------------------------------------------------


async def test_a_guild_searches_only_its_own_feeds(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    mine = await service.search(GUILD_A, "rust")
    titles = {h.title for h in mine.page.hits}
    assert titles == {
        "Rust compilers",
        "Rust in the kernel",
        "Rust async",
        "Gardening with rust-proof tools",
    }
    theirs = await service.search(GUILD_B, "rust")
    assert [h.title for h in theirs.page.hits] == ["Rust for secret guild B"]
    # A feed id of another guild cannot be used to reach its items.
    with pytest.raises(SearchInputError):
        await service.search(GUILD_A, "rust", feed=str(world["beta"]))
    nobody = await service.search(GUILD_EMPTY, "rust")
    assert nobody.page.empty and not nobody.guild_has_feeds
    assert "doesn't follow any feeds" in empty_answer(nobody)


async def test_feed_filter_by_id_url_or_title(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    for feed in (str(world["gamma"]), "https://gamma.example.com/feed", "Gamm"):
        results = await service.search(GUILD_A, "rust", feed=feed)
        assert [h.title for h in results.page.hits] == ["Gardening with rust-proof tools"], feed
    with pytest.raises(SearchInputError, match="doesn't follow"):
        await service.search(GUILD_A, "rust", feed="beta")
    # "a" is in both of guild A's feed titles: ambiguous.
    with pytest.raises(SearchInputError, match="match"):
        await service.search(GUILD_A, "rust", feed="a")


async def test_since_and_author_filters(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    recent = await service.search(GUILD_A, "rust", since="7d")
    assert {h.title for h in recent.page.hits} == {"Rust async", "Gardening with rust-proof tools"}
    dated = await service.search(GUILD_A, "rust", since="2023-10-20")
    assert "Rust compilers" not in {h.title for h in dated.page.hits}
    assert len(dated.page.hits) == 3
    by_jane = await service.search(GUILD_A, "rust", author="jane")
    assert [h.title for h in by_jane.page.hits] == ["Rust async"]
    nobody = await service.search(GUILD_A, "rust", author="Nobody", since="7d")
    assert nobody.page.empty
    answer = empty_answer(nobody)
    assert answer.startswith("No results") and "since 7d" in answer and "author Nobody" in answer


async def test_hostile_queries_answer_and_never_raise(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    hostile = ['"', "*", "NEAR(", "rust OR", "-", "rust " * 400, "🦀🦀", "\x00", "-rust", "   "]
    for text in hostile:
        results = await service.search(GUILD_A, text)
        if results.page.empty:
            assert empty_answer(results), repr(text)
        else:
            assert all("rust" in h.title.lower() for h in results.page.hits)
    only_excluded = await service.search(GUILD_A, "-rust")
    problem = only_excluded.page.problem
    assert problem is not None and "exclude" in problem.message
    no_words = await service.search(GUILD_A, '* ^ ( "')
    problem = no_words.page.problem
    assert problem is not None and "no searchable words" in problem.message
    assert (await service.search(GUILD_A, "rust OR")).page.hits
    emoji = await service.search(GUILD_A, "🦀")
    assert emoji.page.empty and empty_answer(emoji).startswith("No results")
    assert (await service.search(GUILD_A, "NEAR(rust")).page.empty  # "near" and "rust"


async def test_pages_of_ten(store: Store) -> None:
    feed = await add_feed(store.db, "many")
    await add_items(
        store.db,
        feed,
        [make_item(f"p{n}", f"Paging post {n}", "paging", published=NOW - n) for n in range(23)],
    )
    await _subscribe(store, GUILD_A, 11, feed)
    service = _service(store)
    request = (await service.search(GUILD_A, "paging")).request
    seen: list[int] = []
    for index, size, more in ((0, PAGE_SIZE, True), (1, PAGE_SIZE, True), (2, 3, False)):
        results = await service.run(request, index)
        assert len(results.page.hits) == size and results.page.has_more is more
        assert results.page_index == index
        assert results.first_number == index * PAGE_SIZE + 1
        seen += [h.item_id for h in results.page.hits]
    assert len(set(seen)) == 23
    beyond = await service.run(request, 3)
    assert beyond.page.empty and empty_answer(beyond) == "There are no more results."


async def test_latest_newest_first_scoped_and_capped(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    newest = await service.latest(GUILD_A)
    assert [r.title for r in newest] == [
        "Rust async",
        "Gardening with rust-proof tools",
        "Rust in the kernel",
        "Rust compilers",
    ]
    assert [r.title for r in await service.latest(GUILD_A, count=2)] == [
        "Rust async",
        "Gardening with rust-proof tools",
    ]
    assert len(await service.latest(GUILD_A, count=50)) <= LATEST_MAX
    assert len(await service.latest(GUILD_A, count=0)) == 1
    alpha_only = await service.latest(GUILD_A, feed="alpha")
    assert {r.feed_id for r in alpha_only} == {world["alpha"]}
    assert await service.latest(GUILD_EMPTY) == []
    with pytest.raises(SearchInputError):
        await service.latest(GUILD_B, feed=str(world["alpha"]))


async def test_feed_choices_are_the_guilds_own(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    assert [f.title for f in await service.feed_choices(GUILD_A)] == ["Alpha", "Gamma"]
    assert [f.title for f in await service.feed_choices(GUILD_A, "gam")] == ["Gamma"]
    assert [f.title for f in await service.feed_choices(GUILD_B)] == ["Beta"]
    assert await service.feed_choices(GUILD_A, "beta") == []


async def test_shared_item_only_from_the_guilds_feeds(store: Store, world: dict[str, int]) -> None:
    service = _service(store)
    theirs = await service.search(GUILD_B, "rust")
    item_id = theirs.page.hits[0].item_id
    assert await service.shared_item(GUILD_A, item_id) is None
    shared = await service.shared_item(GUILD_B, item_id)
    assert shared is not None and shared.title == "Rust for secret guild B"
    assert await service.shared_item(GUILD_B, 999_999) is None


# ---- console -------------------------------------------------------------------------------


async def _console(store: Store, tmp_path: Path, guild_feeds: list[int], line: str) -> str:
    """Run one console line against `store`, with the console guild following `guild_feeds`."""
    from bot.console.commands import CONSOLE_CHANNEL_ID, CONSOLE_GUILD_ID, ConsoleContext
    from bot.console.repl import run_command
    from bot.runtime import Runtime

    for feed_id in guild_feeds:
        if await store.subscriptions.find(CONSOLE_CHANNEL_ID, feed_id) is None:
            await store.subscriptions.add(CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, feed_id, now=NOW)
    # The search commands use only the runtime's store and clock.
    runtime = cast(
        Runtime,
        SimpleNamespace(
            store=store, clock=lambda: NOW, search=SearchService(store, clock=lambda: NOW)
        ),
    )
    answer = await run_command(ConsoleContext(runtime, lambda _: None), line)
    assert answer is not None
    return answer


async def test_console_search_prints_the_same_results(
    store: Store, world: dict[str, int], tmp_path: Path
) -> None:
    feeds = [world["alpha"], world["gamma"]]
    text = await _console(store, tmp_path, feeds, "search rust --since 7d")
    lines = text.splitlines()
    assert lines[:3] == ["🔎 rust", "  Results 1–2 of 2", "  Filters: since 7d"]
    assert "  1. Rust async <https://example.com/a-new>" in lines
    assert "  2. Gardening with rust-proof tools <https://example.com/g-1>" in lines
    alpha = lines.index("  1. Rust async <https://example.com/a-new>") + 1
    assert lines[alpha].startswith("  Alpha · ") and lines[alpha].endswith(" UTC · by Jane Doe")
    assert lines[alpha + 1] == "  rust tokio runtime"  # the snippet (bold is Discord-only)
    assert any(line.startswith("  Gamma · ") for line in lines) and "guild B" not in text
    text = await _console(store, tmp_path, feeds, 'search "rust async" --author=jane')
    assert "Rust async" in text and "kernel" not in text
    text = await _console(
        store, tmp_path, feeds, "search rust -kernel -compilers -async --feed alpha"
    )
    assert text.splitlines()[0] == "🔎 rust -kernel -compilers -async"
    assert text.splitlines()[1].startswith("No results")
    text = await _console(store, tmp_path, feeds, "search rust --since soon")
    assert text.startswith("Sorry:") and "7d" in text
    text = await _console(store, tmp_path, feeds, "search --page 2")
    assert "usage: search " in text and "WORDS" in text


async def test_console_latest(store: Store, world: dict[str, int], tmp_path: Path) -> None:
    feeds = [world["alpha"], world["gamma"]]
    text = await _console(store, tmp_path, feeds, "latest --count 2")
    titles = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert titles == ["The 2 newest items:", "Rust async", "Gardening with rust-proof tools"]
    feeds_shown = [line.split(" · ")[0] for line in text.splitlines() if " · " in line]
    assert feeds_shown == ["  Alpha", "  Gamma"]
    text = await _console(store, tmp_path, feeds, "latest --feed gamma")
    assert [line for line in text.splitlines() if line and not line.startswith(" ")] == [
        "The 1 newest item:",
        "Gardening with rust-proof tools",
    ]
    assert "  Gamma · " in text
    assert "between 1 and 10" in await _console(store, tmp_path, feeds, "latest --count 11")


async def test_japanese_snippet_is_the_original_text_with_the_match_in_bold(
    store: Store,
) -> None:
    """Issue 19 item 2: `/search 蒸留` showed
    `最近 、 オープンモデルと**蒸留** （distillation） の…` (the index's CJK spacing).
    The snippet is the feed's own text, its own spaces kept."""
    body = "最近、オープンモデルと蒸留（distillation）の話。\nAI の「蒸留」も。"
    feed = await add_feed(store.db, "jp")
    await add_items(store.db, feed, [make_item("jp-1", "蒸留の話", body, published=NOW - DAY)])
    await _subscribe(store, GUILD_A, 11, feed)

    results = await _service(store).search(GUILD_A, "蒸留")
    [hit] = results.page.hits
    description = render_results(results).embeds[0].description
    # The whole body fits one snippet: it reads as written, line break made a space.
    expected = "最近、オープンモデルと**蒸留**（distillation）の話。 AI の「**蒸留**」も。"
    assert expected in description
    assert hit.snippet.replace("\x02", "").replace("\x03", "") == " ".join(body.split())
