"""/search over a real archive, on SQLite and on PostgreSQL: meaning of the syntax, scoping,
filters, paging, snippets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.features.search.render import snippet_markdown
from bot.model import QueryProblem
from bot.search.percolator import active_topics_percolator
from bot.search.query import parse_query
from bot.store import Store
from bot.store import search as search_module
from bot.store.cjk import space_cjk, unspace_cjk
from bot.store.db import Backend
from bot.store.search import SearchPage, display_snippet, search_items
from bot.store.subscriptions import SubscriptionStore
from bot.store.topics import (
    MAX_TOPICS_PER_MEMBER,
    FollowOutcome,
    FollowResult,
    TopicStore,
    queue_topic_dms_tx,
)
from tests.integration.search_fixtures import NOW, add_feed, add_items, make_item


@pytest.fixture
async def db(store_target: str) -> AsyncIterator[Backend]:
    database = (await Store.open(store_target)).db
    yield database
    await database.close()


async def _search(db: Backend, text: str, feeds: list[int], **kw: object) -> SearchPage:
    query = parse_query(text)
    assert query is not None, text
    return await search_items(db, query, feed_ids=feeds, **kw)  # type: ignore[arg-type]


def _titles(page: SearchPage) -> set[str]:
    return {h.title for h in page.hits}


async def test_words_phrases_exclusion_or(db: Backend) -> None:
    feed = await add_feed(db, "alpha")
    await add_items(
        db,
        feed,
        [
            make_item("1", "Open weight models arrive", "Meta released open weight models."),
            make_item("2", "Weight of the open sea", "The open ocean has great weight."),
            make_item("3", "Closed models", "No open weights here, only an API."),
            make_item("4", "Llama news", "Llama is an open weight model family."),
        ],
    )
    words = await _search(db, "open weight", [feed])
    assert _titles(words) == {"Open weight models arrive", "Weight of the open sea", "Llama news"}
    phrase = await _search(db, '"open weight"', [feed])
    assert _titles(phrase) == {"Open weight models arrive", "Llama news"}
    excluded = await _search(db, '"open weight" -llama', [feed])
    assert _titles(excluded) == {"Open weight models arrive"}
    either = await _search(db, "sea OR api", [feed])
    assert _titles(either) == {"Weight of the open sea", "Closed models"}
    assert either.total == 2 and not either.has_more


async def test_title_ranks_above_body(db: Backend) -> None:
    feed = await add_feed(db, "rank")
    await add_items(
        db,
        feed,
        [
            make_item("body", "Weekly roundup", "Lots of things, one of them about quantum chips."),
            make_item("title", "Quantum computing explained", "A long explainer about qubits."),
        ],
    )
    page = await _search(db, "quantum", [feed])
    assert [h.title for h in page.hits] == ["Quantum computing explained", "Weekly roundup"]


async def test_only_given_feeds_are_searched(db: Backend) -> None:
    mine = await add_feed(db, "mine")
    theirs = await add_feed(db, "theirs")
    await add_items(db, mine, [make_item("m", "Shared word zebra", "zebra in my feed")])
    await add_items(db, theirs, [make_item("t", "Secret zebra", "zebra in their feed")])
    page = await _search(db, "zebra", [mine])
    assert _titles(page) == {"Shared word zebra"}
    assert {h.feed_id for h in page.hits} == {mine}
    assert (await _search(db, "secret", [mine])).hits == []
    assert (await _search(db, "zebra", [])).hits == []


async def test_since_and_author_filters(db: Backend) -> None:
    feed = await add_feed(db, "filters")
    await add_items(
        db,
        feed,
        [
            make_item("old", "Old rust post", "rust", author="Ann Lee", published=NOW - 30 * 86400),
            make_item("new", "New rust post", "rust", author="Bob Stone", published=NOW - 86400),
        ],
    )
    recent = await _search(db, "rust", [feed], since=NOW - 7 * 86400)
    assert _titles(recent) == {"New rust post"}
    by_ann = await _search(db, "rust", [feed], author="ann")
    assert _titles(by_ann) == {"Old rust post"}
    assert (await _search(db, "rust", [feed], author="100%_")).hits == []


async def test_paging(db: Backend) -> None:
    feed = await add_feed(db, "paging")
    items = [
        make_item(f"p{i}", f"Paging post {i}", "kiwi " * (i + 1), published=NOW + i)
        for i in range(23)
    ]
    await add_items(db, feed, items)
    seen: list[int] = []
    offset = 0
    while True:
        page = await _search(db, "kiwi", [feed], limit=10, offset=offset)
        seen += [h.item_id for h in page.hits]
        assert page.total == 23
        if not page.has_more:
            break
        offset += 10
    assert len(seen) == 23 and len(set(seen)) == 23
    assert offset == 20


async def test_many_matches_rank_the_newest_candidates(
    db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "RANK_ALL", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 8)
    monkeypatch.setattr(search_module, "MIN_CANDIDATES", 2)
    feed = await add_feed(db, "common")
    ids = await add_items(
        db, feed, [make_item(f"c{i}", f"Common {i}", "mango everywhere") for i in range(20)]
    )
    page = await _search(db, "mango", [feed], limit=5)
    assert page.recent_only and page.total is None and page.has_more
    assert {h.item_id for h in page.hits} <= set(ids[-8:])
    last = await _search(db, "mango", [feed], limit=5, offset=5)
    assert not last.has_more and len(last.hits) == 3


async def test_small_guild_ranks_fewer_candidates(
    db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "RANK_ALL", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 100)
    monkeypatch.setattr(search_module, "MIN_CANDIDATES", 3)
    monkeypatch.setattr(search_module, "SCAN_BUDGET", 10)
    big = await add_feed(db, "big")
    small = await add_feed(db, "small")
    await add_feed(db, "empty")
    await add_items(db, big, [make_item(f"b{i}", f"Big {i}", "mango") for i in range(40)])
    ids = await add_items(db, small, [make_item(f"s{i}", f"Small {i}", "mango") for i in range(10)])
    page = await _search(db, "mango", [small], limit=10)  # share 10/50: 2 → at least 3
    assert page.recent_only and page.window == 3 and not page.has_more
    assert {h.item_id for h in page.hits} == set(ids[-3:])
    whole = await _search(db, "mango", [big, small], limit=10)
    assert whole.recent_only and len(whole.hits) == 10  # share 1: SCAN_BUDGET candidates


async def test_japanese_inside_runs_diacritics_and_ai(db: Backend) -> None:
    feed = await add_feed(db, "mixed")
    await add_items(
        db,
        feed,
        [
            make_item("jp", "お知らせ", "プランは500円で自動更新します。"),
            make_item("tulu", "Tülu 3 is out", "AllenAI released Tülu."),
            make_item("ai", "AI policy", "He said the AI act passed."),
            make_item("said", "Nothing", "She said hello."),
        ],
    )
    jp = await _search(db, "自動更新", [feed])
    assert _titles(jp) == {"お知らせ"}
    assert "\x02自動更新\x03" in jp.hits[0].snippet  # marked, CJK spacing undone
    assert "**自動更新**" in snippet_markdown(jp.hits[0].snippet)
    assert "自 動" not in jp.hits[0].snippet
    assert _titles(await _search(db, "tulu", [feed])) == {"Tülu 3 is out"}
    assert _titles(await _search(db, "TÜLU", [feed])) == {"Tülu 3 is out"}
    assert _titles(await _search(db, "AI", [feed])) == {"AI policy"}


@pytest.mark.parametrize(
    "text",
    ['"', "*", "NEAR(", "a OR", "-", "x" * 2000, "🎉", "a\x00b", "title:foo", "(", "^", "AND"],
)
async def test_hostile_queries_never_raise(db: Backend, text: str) -> None:
    feed = await add_feed(db, "hostile")
    await add_items(db, feed, [make_item("h", "A near title", "a foo and b")])
    query = parse_query(text)
    if query is None:
        return  # the caller says "no searchable words"
    page = await search_items(db, query, feed_ids=[feed])
    assert page.problem is None
    assert isinstance(page.hits, list)


async def test_hostile_queries_find_plain_words(db: Backend) -> None:
    feed = await add_feed(db, "plain")
    await add_items(db, feed, [make_item("n", "NEAR the shore", "stars * and ^ carets")])
    assert len((await _search(db, "NEAR(", [feed])).hits) == 1
    assert len((await _search(db, "shore OR", [feed])).hits) == 1
    assert len((await _search(db, 'stars "', [feed])).hits) == 1


async def test_only_exclusions_is_a_clear_problem(db: Backend) -> None:
    feed = await add_feed(db, "excl")
    page = await _search(db, "-spam", [feed])
    assert page.problem is QueryProblem.ONLY_EXCLUSIONS and page.hits == []


async def test_snippet_escapes_feed_markdown_but_bolds_matches(db: Backend) -> None:
    feed = await add_feed(db, "md")
    await add_items(
        db, feed, [make_item("md", "Markdown", "Use *stars* and @everyone to see the banana.")]
    )
    page = await _search(db, "banana", [feed])
    raw = page.hits[0].snippet  # the store's text is raw: the matched word between markers
    assert "\x02banana\x03" in raw and "*stars*" in raw
    snippet = snippet_markdown(raw)
    assert "**banana**" in snippet
    assert "\\*stars\\*" in snippet
    assert "@everyone" not in snippet


def test_cjk_spacing_is_undone_exactly() -> None:
    """The original text comes back as written: punctuation, brackets, the feed's own spaces
    and line breaks next to CJK characters, Hangul and rare (extension B) kanji."""
    for text in (
        "最近、オープンモデルと蒸留（distillation）の話。",
        "AI の研究者は 2026年に「蒸留」を議論した。\n次の段落 。",
        "한국어 연구도 있다. 𠮷野家 ",
        " 先頭と末尾の空白 ",
    ):
        assert unspace_cjk(space_cjk(text)) == text


def test_snippet_markers_become_bold_and_cjk_spacing_is_undone() -> None:
    assert display_snippet("で  \x02自  動\x03  し") == "で\x02自動\x03し"
    spaced = "…近 、 オ  と  \x02蒸  留\x03 （x） の…"
    assert display_snippet(spaced) == "…近、オと\x02蒸留\x03（x）の…"
    assert snippet_markdown(display_snippet("a \x02b\x03 c")) == "a **b** c"
    assert snippet_markdown(display_snippet("で  \x02自  動\x03  し")) == "で**自動**し"
    assert snippet_markdown(display_snippet("x_y \x02z\x03")) == "x\\_y **z**"


# Topics (saved searches) ---------------------------------------------------------------------


def key_of(text: str) -> str:
    query = parse_query(text)
    assert query is not None
    return query.key


async def add_topic(
    topics: TopicStore, guild_id: int, user_id: int, text: str, *, feed_id: int | None = None
) -> FollowResult:
    return await topics.add(guild_id, user_id, text, key_of(text), feed_id=feed_id, now=NOW)


async def test_follow_limits_and_duplicates(db: Backend) -> None:
    topics = TopicStore(db)
    first = await add_topic(topics, 1, 10, "Open Weight")
    assert first.outcome is FollowOutcome.ADDED and first.topic is not None
    again = await add_topic(topics, 1, 10, "weight   open")
    assert again.outcome is FollowOutcome.ALREADY_FOLLOWED
    assert again.topic is not None and again.topic.id == first.topic.id
    other_guild = await add_topic(topics, 2, 10, "open weight")
    assert other_guild.outcome is FollowOutcome.ADDED
    for n in range(MAX_TOPICS_PER_MEMBER - 1):
        assert (await add_topic(topics, 1, 10, f"topic{n}")).outcome is FollowOutcome.ADDED
    full = await add_topic(topics, 1, 10, "one too many")
    assert full.outcome is FollowOutcome.LIMIT_REACHED
    assert len(await topics.list_for_member(1, 10)) == MAX_TOPICS_PER_MEMBER
    assert (await add_topic(topics, 1, 11, "one too many")).outcome is FollowOutcome.ADDED


async def test_unfollow_only_own_topic(db: Backend) -> None:
    topics = TopicStore(db)
    added = (await add_topic(topics, 1, 10, "rust")).topic
    assert added is not None
    assert await topics.remove(added.id, user_id=99) is None
    found = await topics.find(1, 10, key_of("RUST"))
    assert found is not None and found.id == added.id
    removed = await topics.remove(added.id, user_id=10)
    assert removed is not None and removed.query == "rust"
    assert await topics.list_for_member(1, 10) == []


async def test_closed_dms_pause_topics_until_resumed(db: Backend) -> None:
    topics = TopicStore(db)
    await add_topic(topics, 1, 10, "rust")
    await add_topic(topics, 1, 20, "go")
    await topics.mark_dms_closed(10, NOW)
    assert [t.user_id for t in await topics.all_active()] == [20]
    assert await topics.take_closed_notice(10, NOW) is True
    assert await topics.take_closed_notice(10, NOW) is False
    percolator = await active_topics_percolator(topics)
    assert len(percolator) == 1
    assert percolator.match(["Rust and Go", "", ""]) == {t.id for t in await topics.all_active()}
    assert await topics.resume_dms(10) is True
    assert {t.user_id for t in await topics.all_active()} == {10, 20}
    assert len((await active_topics_percolator(topics)).match(["Rust and Go", "", ""])) == 2
    await topics.set_dm_channel(20, 555)
    assert (await topics.member(20)).dm_channel_id == 555


async def test_topic_dms_are_scoped_and_one_per_member(db: Backend) -> None:
    topics = TopicStore(db)
    subs = SubscriptionStore(db)
    feed_a = await add_feed(db, "feeda")
    feed_b = await add_feed(db, "feedb")
    await subs.add(1, 100, feed_a, now=NOW)  # guild 1 follows feed A
    await subs.add(2, 200, feed_a, now=NOW)  # guild 2 follows feed A
    await subs.add(3, 300, feed_b, now=NOW)  # guild 3 follows only feed B
    t1 = (await add_topic(topics, 1, 10, "rust")).topic
    t2 = (await add_topic(topics, 1, 10, "compiler")).topic  # same member, same guild
    t3 = (await add_topic(topics, 2, 10, "rust")).topic  # same member, other guild
    t4 = (await add_topic(topics, 3, 30, "rust")).topic  # guild 3 does not follow feed A
    t5 = (await add_topic(topics, 1, 40, "rust", feed_id=feed_b)).topic  # only feed B
    t6 = (await add_topic(topics, 1, 50, "rust")).topic  # DMs closed
    await topics.mark_dms_closed(50, NOW)
    all_topics = [t1, t2, t3, t4, t5, t6]
    assert all(t is not None for t in all_topics)
    ids = [t.id for t in all_topics if t is not None]
    [item_id] = await add_items(db, feed_a, [make_item("r", "Rust compiler", "news")])
    async with db.transaction() as tx:
        queued = await queue_topic_dms_tx(tx, item_id, feed_a, ids, NOW)
    assert queued == 1  # member 10 only, once
    rows = list(
        await db.reader.execute_fetchall(
            "SELECT dedupe_key, target_id, payload FROM deliveries WHERE kind = 'dm'"
        )
    )
    assert [(r[0], r[1]) for r in rows] == [(f"dm:{item_id}:u:10", 10)]
    assert "compiler" in rows[0][2]
    async with db.transaction() as tx:  # the same item again (e.g. after a crash): no new DM
        assert await queue_topic_dms_tx(tx, item_id, feed_a, ids, NOW) == 0
    counts = {t.query: t.match_count for t in await topics.list_for_member(1, 10)}
    assert counts == {"rust": 1, "compiler": 1}
    assert [t.match_count for t in await topics.list_for_member(3, 30)] == [0]
