"""Following topics through the real runtime: loopback feeds → pipeline → store → outbox.

The outbox sends through a recording sender (console-style text DMs); the Discord side is in
tests/e2e/test_follow_commands.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.console.commands  # noqa: F401  (registers the console commands)
from bot.console.commands import CONSOLE_CHANNEL_ID, CONSOLE_GUILD_ID, ConsoleContext
from bot.console.repl import run_command
from bot.delivery.senders import ConsoleSender, PermanentSendError
from bot.features.follow.service import DMS_CLOSED_TEXT, DMS_RESUMED_TEXT, StopOutcome
from bot.features.search.service import SearchInputError
from bot.ingest.pipeline import FeedPipeline
from bot.model import DeliveryRow, QueryProblem
from bot.runtime import Runtime
from bot.search.percolator import active_topics_percolator
from bot.store import Store
from bot.store.polls import PollSuccess, commit_poll
from bot.store.topics import MAX_TOPICS_PER_MEMBER, FollowOutcome, TopicStore
from tests.deliveryfakes import RecordingSender, add_polled_feed, fresh_item
from tests.e2e.harness import bot_settings as make_settings
from tests.feedserver import FeedServer, rss_feed, without_validators

GUILD_A, GUILD_B = 100, 200
CHANNEL_A, CHANNEL_B = 101, 201
ANN, BOB, CAT = 11, 12, 13


def letter(name: str, posts: list[tuple[str, str]]) -> str:
    """A feed whose posts are (guid, title), newest first."""
    return rss_feed(
        [
            {
                "title": title,
                "link": f"https://{name}.example.com/p/{guid}",
                "guid": guid,
                "content": f"<p>{title}. More words in the body.</p>",
                "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT",
            }
            for guid, title in posts
        ],
        title=f"{name.title()} Letter",
    )


class Bench:
    def __init__(self, runtime: Runtime, sender: RecordingSender, server: FeedServer) -> None:
        self.runtime = runtime
        self.sender = sender
        self.server = server
        self.feed_ids: dict[str, int] = {}

    async def subscribe(self, guild_id: int, channel_id: int, name: str) -> int:
        """The guild's channel follows the feed `name` (its current posts are the archive)."""
        if self.server.hits(f"/{name}.xml") == 0 and name not in self.feed_ids:
            self.server.set(f"/{name}.xml", letter(name, [("old", f"{name} archive rust post")]))
        result = await self.runtime.subscriptions.subscribe(
            guild_id=guild_id,
            channel_id=channel_id,
            url=self.server.url(f"/{name}.xml"),
            backfill=0,
        )
        self.feed_ids[name] = result.feed.id
        return result.feed.id

    async def publish(self, name: str, posts: list[tuple[str, str]]) -> list[int]:
        """The feed now lists `posts`; poll it once and send what was queued."""
        self.server.set(f"/{name}.xml", letter(name, posts))
        feed = await self.runtime.store.feeds.get(self.feed_ids[name])
        assert feed is not None
        outcome = await self.runtime.pipeline.poll(without_validators(feed))
        assert outcome.error is None, outcome.error
        assert self.runtime.outbox is not None
        await self.runtime.outbox.drain()
        return outcome.new_item_ids

    def dms(self, user_id: int) -> list[str]:
        return [c.shown for c in self.sender.calls if c.target == ("user", user_id)]

    async def dm_rows(self, user_id: int) -> list[DeliveryRow]:
        return await self.runtime.store.deliveries.for_target("user", user_id)


@contextlib.asynccontextmanager
async def open_bench(
    tmp_path: Path, server: FeedServer, sender: RecordingSender | None = None
) -> AsyncIterator[Bench]:
    runtime = Runtime(make_settings(tmp_path), await Store.open(tmp_path / "bot.db"))
    recording = sender or RecordingSender()
    runtime.attach_sender(recording)
    await runtime.start_follows()
    try:
        yield Bench(runtime, recording, server)
    finally:
        await runtime.close()


async def test_new_items_dm_each_matching_member_once_never_backfill_or_edits(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with open_bench(tmp_path, feed_server) as bench:
        follows = bench.runtime.follows
        await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        await bench.subscribe(GUILD_B, CHANNEL_B, "alpha")
        # Ann matches through two topics in guild A and one in guild B: still one DM.
        for guild, text in ((GUILD_A, "rust"), (GUILD_A, '"borrow checker"'), (GUILD_B, "rust")):
            answer = await follows.follow(guild, ANN, text)
            assert answer.result.outcome is FollowOutcome.ADDED
        await follows.follow(GUILD_A, BOB, "python")
        await follows.follow(GUILD_A, CAT, "rust -checker")  # excluded words hold

        # The archive already matched "rust" (first poll): nobody was told.
        assert bench.dms(ANN) == [] and bench.dms(CAT) == []

        new = await bench.publish(
            "alpha",
            [
                ("p1", "Rust and the borrow checker"),
                ("old", "alpha archive rust post"),
            ],
        )
        assert len(new) == 1
        ann = bench.dms(ANN)
        assert len(ann) == 1
        assert ann[0].startswith('🔔 A new post matches your topics rust, "borrow checker"; rust\n')
        assert "Rust and the borrow checker" in ann[0]
        assert bench.dms(BOB) == [] and bench.dms(CAT) == []
        (row,) = await bench.dm_rows(ANN)
        assert row.state == "sent" and row.item_id == new[0] and row.kind == "dm"
        topics = row.payload_data()["topics"]
        assert isinstance(topics, list)
        assert {t["guild_id"] for t in topics} == {GUILD_A, GUILD_B}

        # An edit of a known item (even one that now matches) notifies no one.
        await bench.publish(
            "alpha",
            [("p1", "Rust and the borrow checker, python edition"), ("old", "archive")],
        )
        assert len(bench.dms(ANN)) == 1 and bench.dms(BOB) == []

        # Match counts grow once per DM, per topic.
        listed = {f.topic.query: f.topic.match_count for f in await follows.following(GUILD_A, ANN)}
        assert listed == {"rust": 1, '"borrow checker"': 1}


async def test_a_member_never_hears_of_a_feed_only_another_guild_follows(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with open_bench(tmp_path, feed_server) as bench:
        follows = bench.runtime.follows
        await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        await bench.subscribe(GUILD_B, CHANNEL_B, "beta")
        await follows.follow(GUILD_A, ANN, "rust")  # Ann is in A only
        await follows.follow(GUILD_B, BOB, "rust")  # Bob is in B only
        await bench.publish("beta", [("b1", "Rust in beta"), ("old", "beta archive rust post")])
        assert bench.dms(ANN) == []
        assert len(bench.dms(BOB)) == 1
        await bench.publish("alpha", [("a1", "Rust in alpha"), ("old", "alpha archive rust post")])
        assert len(bench.dms(ANN)) == 1 and "Rust in alpha" in bench.dms(ANN)[0]
        assert len(bench.dms(BOB)) == 1


async def test_a_topic_limited_to_one_feed_ignores_the_others(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with open_bench(tmp_path, feed_server) as bench:
        follows = bench.runtime.follows
        alpha = await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        await bench.subscribe(GUILD_A, CHANNEL_A, "beta")
        answer = await follows.follow(GUILD_A, ANN, "rust", feed=str(alpha))
        assert answer.feed is not None and answer.feed.feed_id == alpha
        with pytest.raises(SearchInputError):
            await follows.follow(GUILD_A, ANN, "go", feed="no such feed")
        await bench.publish("beta", [("b1", "Rust in beta"), ("old", "beta archive rust post")])
        assert bench.dms(ANN) == []
        await bench.publish("alpha", [("a1", "Rust in alpha"), ("old", "alpha archive rust post")])
        assert len(bench.dms(ANN)) == 1


async def test_follow_limit_duplicates_and_unfollow(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with open_bench(tmp_path, feed_server) as bench:
        follows = bench.runtime.follows
        await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        first = await follows.follow(GUILD_A, ANN, "Open Weight")
        assert first.result.outcome is FollowOutcome.ADDED and first.count == 1
        again = await follows.follow(GUILD_A, ANN, "weight   OPEN")
        assert again.result.outcome is FollowOutcome.ALREADY_FOLLOWED
        nothing = await follows.follow(GUILD_A, ANN, "-- ... !!")
        assert nothing.result.outcome is FollowOutcome.NOT_SEARCHABLE
        only_out = await follows.follow(GUILD_A, ANN, "-spam")
        assert only_out.result.outcome is FollowOutcome.NOT_SEARCHABLE
        assert only_out.result.problem == QueryProblem.ONLY_EXCLUSIONS.message
        for n in range(MAX_TOPICS_PER_MEMBER - 1):
            assert (await follows.follow(GUILD_A, ANN, f"word{n}")).result.outcome is (
                FollowOutcome.ADDED
            )
        full = await follows.follow(GUILD_A, ANN, "one more")
        assert full.result.outcome is FollowOutcome.LIMIT_REACHED
        assert full.count == MAX_TOPICS_PER_MEMBER
        assert len(follows.percolator) == MAX_TOPICS_PER_MEMBER

        # Autocomplete offers only her own topics in this guild.
        await follows.follow(GUILD_A, BOB, "word1 secret")
        await follows.follow(GUILD_B, ANN, "word1 elsewhere")
        choices = await follows.topic_choices(GUILD_A, ANN, "word1")
        assert [c.query for c in choices] == ["word1"] + [f"word{n}" for n in range(10, 20)]

        # Unfollow by autocomplete value (the id) or by the words; not someone else's topic.
        bobs = (await follows.following(GUILD_A, BOB))[0].topic
        assert await follows.unfollow(GUILD_A, ANN, str(bobs.id)) is None
        assert await follows.unfollow(GUILD_A, ANN, str(first.result.topic.id)) is not None  # type: ignore[union-attr]
        removed = await follows.unfollow(GUILD_A, ANN, "WORD3")
        assert removed is not None and removed.query == "word3"
        assert first.result.topic.id not in follows.percolator  # type: ignore[union-attr]
        assert len(await follows.following(GUILD_A, ANN)) == MAX_TOPICS_PER_MEMBER - 2

        # The "Stop this topic" button: only the owner, and only once.
        word4 = next(
            f.topic for f in await follows.following(GUILD_A, ANN) if f.topic.query == "word4"
        )
        assert (await follows.stop_topic(word4.id, BOB)).outcome is StopOutcome.NOT_YOURS
        assert (await follows.stop_topic(word4.id, ANN)).outcome is StopOutcome.STOPPED
        assert (await follows.stop_topic(word4.id, ANN)).outcome is StopOutcome.GONE
        assert word4.id not in follows.percolator


async def test_unfollowed_after_queueing_sends_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with open_bench(tmp_path, feed_server) as bench:
        follows = bench.runtime.follows
        await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        added = (await follows.follow(GUILD_A, ANN, "rust")).result.topic
        assert added is not None
        bench.server.set(
            "/alpha.xml", letter("alpha", [("p1", "Rust news"), ("old", "alpha archive rust post")])
        )
        feed = await bench.runtime.store.feeds.get(bench.feed_ids["alpha"])
        assert feed is not None
        await bench.runtime.pipeline.poll(without_validators(feed))
        (queued,) = await bench.dm_rows(ANN)
        assert queued.state == "pending"
        await follows.unfollow(GUILD_A, ANN, "rust")
        assert bench.runtime.outbox is not None
        await bench.runtime.outbox.drain()
        assert bench.dms(ANN) == []
        assert [c.target for c in bench.sender.calls] == [("channel", CHANNEL_A)]


async def test_closed_dms_pause_follows_until_the_member_comes_back(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    closed = {ANN}

    def refuse(delivery: DeliveryRow) -> Exception | None:
        if delivery.target_kind == "user" and delivery.target_id in closed:
            return PermanentSendError("Cannot send messages to this user")
        return None

    async with open_bench(tmp_path, feed_server, RecordingSender(fail=refuse)) as bench:
        follows = bench.runtime.follows
        await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        await follows.follow(GUILD_A, ANN, "rust")
        await follows.follow(GUILD_A, BOB, "rust")
        posts = [("old", "alpha archive rust post")]

        posts.insert(0, ("p1", "Rust one"))
        await bench.publish("alpha", posts)
        assert bench.sender.attempts.count((await bench.dm_rows(ANN))[0].id) == 1
        assert [r.state for r in await bench.dm_rows(ANN)] == ["paused"]
        assert (await follows.topics.member(ANN)).closed
        assert len(follows.percolator) == 1  # Bob's topic only

        # Not retried, and the next match queues nothing for her (Bob still gets his).
        posts.insert(0, ("p2", "Rust two"))
        await bench.publish("alpha", posts)
        assert len(await bench.dm_rows(ANN)) == 1
        assert (
            len([a for a in bench.sender.attempts if a in {r.id for r in await bench.dm_rows(ANN)}])
            == 1
        )
        assert len(bench.dms(BOB)) == 2

        # Her next command tells her why (once); /unfollow does not resume, /following does.
        assert await follows.dm_notice(ANN, may_resume=False) == DMS_CLOSED_TEXT
        assert await follows.dm_notice(ANN, may_resume=False) is None
        closed.clear()
        assert await follows.dm_notice(ANN, may_resume=True) == DMS_RESUMED_TEXT
        assert await follows.dm_notice(ANN, may_resume=True) is None
        assert len(follows.percolator) == 2

        posts.insert(0, ("p3", "Rust three"))
        await bench.publish("alpha", posts)
        assert len(bench.dms(ANN)) == 1 and "Rust three" in bench.dms(ANN)[0]


async def test_restart_rebuilds_the_percolator_and_a_bare_pipeline_matches_too(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    async with open_bench(tmp_path, feed_server) as bench:
        await bench.subscribe(GUILD_A, CHANNEL_A, "alpha")
        await bench.runtime.follows.follow(GUILD_A, ANN, "rust")
        await bench.runtime.follows.follow(GUILD_A, BOB, "rust")
        await bench.runtime.follows.on_dms_closed(BOB, "closed")
        feed_id = bench.feed_ids["alpha"]
    async with open_bench(tmp_path, feed_server) as bench:
        assert len(bench.runtime.follows.percolator) == 1  # Bob's paused topic is left out
    # A process without the runtime's percolator (`poll --once`) loads the topics itself.
    store = await Store.open(tmp_path / "bot.db")
    runtime = Runtime(make_settings(tmp_path), store)
    try:
        pipeline = FeedPipeline(store, runtime.fetcher)
        feed_server.set(
            "/alpha.xml",
            letter("alpha", [("p9", "Rust again"), ("old", "alpha archive rust post")]),
        )
        feed = await store.feeds.get(feed_id)
        assert feed is not None
        outcome = await pipeline.poll(without_validators(feed))
        assert len(outcome.new_item_ids) == 1
        ann = await store.deliveries.for_target("user", ANN)
        assert [(r.kind, r.item_id, r.state) for r in ann] == [
            ("dm", outcome.new_item_ids[0], "pending")
        ]
        assert await store.deliveries.for_target("user", BOB) == []
    finally:
        await runtime.close()


async def test_console_follow_prints_matches_in_the_terminal(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    printed: list[str] = []
    async with open_bench(tmp_path, feed_server) as bench:
        runtime = bench.runtime
        runtime.attach_sender(ConsoleSender(printed.append))
        await runtime.start_follows()
        ctx = ConsoleContext(runtime, printed.append)
        await bench.subscribe(CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, "alpha")
        followed = await run_command(ctx, 'follow "borrow checker" rust')
        assert followed is not None and followed.startswith('Following "borrow checker" rust.')
        assert "already follow" in (await run_command(ctx, "follow rust 'borrow checker'") or "")
        assert await run_command(ctx, "unfollow nothing here") == (
            "You don't follow that topic in this server. `/following` lists your topics."
        )
        await bench.publish(
            "alpha", [("p1", "Rust and the borrow checker"), ("old", "alpha archive rust post")]
        )
        dm = [p for p in printed if p.startswith("🔔")]
        assert len(dm) == 1
        expected = '🔔 A new post matches your topic "borrow checker" rust\n\n[Alpha Letter]'
        assert dm[0].startswith(expected)
        assert "Rust and the borrow checker" in dm[0]
        listed = await run_command(ctx, "following")
        assert listed is not None and "1 match" in listed
        removed = await run_command(ctx, 'unfollow rust "borrow checker"')
        assert removed is not None and removed.startswith("Stopped following")
        assert await run_command(ctx, "following") == (
            'You follow no topics in this server. Try `/follow "open weight"`.'
        )


async def test_a_word_thousands_follow_queues_one_dm_each(tmp_path: Path) -> None:
    """More matching topics than one SQL statement takes parameters (chunked), one DM each."""
    members = 6_001
    store = await Store.open(tmp_path / "bot.db")
    try:
        feed_id = await add_polled_feed(store, "https://letter.example.com/feed")
        await store.subscriptions.add(GUILD_A, CHANNEL_A, feed_id, now=1.0)
        async with store.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO topics (guild_id, user_id, query, norm_key, created_at) "
                "VALUES (?, ?, 'rust', 'rust', 1)",
                [(GUILD_A, user) for user in range(1, members + 1)],
            )
        percolator = await active_topics_percolator(TopicStore(store.db))
        fresh = fresh_item("p1", title="Rust news")
        item = fresh.item
        matches = percolator.match([item.entry.title, item.summary, item.content_text])
        assert len(matches) == members
        success = PollSuccess(2.0, 3.0, None, None, None, None)
        await commit_poll(store.db, feed_id, [fresh], success, topic_matches={"p1": matches})
        counts = await store.deliveries.counts()
        assert counts["pending"] == members + 1  # the DMs and the channel post
        last = await TopicStore(store.db).list_for_member(GUILD_A, members)
        assert [t.match_count for t in last] == [1]
    finally:
        await store.close()
