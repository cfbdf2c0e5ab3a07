"""Subscriptions and routing on a real SQLite file: one subscription per (channel, feed), new
items queued for instant channels in the poll's own transaction, never twice."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import bot.store.polls as polls
from bot.store import Store
from bot.store.routing import NewDelivery
from bot.store.subscriptions import RESUME_REQUEUE_LIMIT
from tests.deliveryfakes import add_polled_feed, poll_items, queue


def item_key(item_id: int, channel_id: int) -> str:
    return f"item:{item_id}:ch:{channel_id}"


GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
CH_A = 900_000_000_000_000_001
CH_B = 900_000_000_000_000_002
CH_C = 900_000_000_000_000_003
ADMIN = 555_555_555_555_555_555


@pytest_asyncio.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_target)
    yield opened
    await opened.close()


async def delivery_states(store: Store) -> dict[str, str]:
    rows = await store.db.reader.execute_fetchall("SELECT dedupe_key, state FROM deliveries")
    return {str(k): str(s) for k, s in rows}


async def test_one_subscription_per_channel_and_feed(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    first, created = await store.subscriptions.add(
        GUILD, CH_A, feed_id, mode="instant", mention_role_id=None, added_by=ADMIN, now=10
    )
    assert created and first.mode == "instant" and first.added_by == ADMIN
    again, created_again = await store.subscriptions.add(
        GUILD, CH_A, feed_id, mode="digest", mention_role_id=42, added_by=None, now=20
    )
    assert not created_again
    assert again.id == first.id
    assert (again.mode, again.mention_role_id, again.added_by) == ("digest", 42, ADMIN)
    assert len(await store.subscriptions.list_for_guild(GUILD)) == 1
    # Snowflakes survive as exact integers.
    assert (again.guild_id, again.channel_id) == (GUILD, CH_A)
    with pytest.raises(ValueError):
        await store.subscriptions.add(GUILD, CH_B, feed_id, mode="hourly", now=1)  # type: ignore[arg-type]


async def test_list_for_guild_shows_feed_health_and_is_scoped(store: Store) -> None:
    good = await add_polled_feed(store, "https://good.example/feed")
    bad = await add_polled_feed(store, "https://bad.example/feed")
    await poll_items(store, good, ["g-1"], now=50)
    await polls.commit_failure(store.db, bad, now=60, next_poll_at=120, error="HTTP 500")
    await store.subscriptions.add(GUILD, CH_A, good, now=1)
    await store.subscriptions.add(GUILD, CH_B, bad, now=1)
    await store.subscriptions.add(OTHER_GUILD, CH_C, good, now=1)

    views = await store.subscriptions.list_for_guild(GUILD)
    assert [(v.subscription.channel_id, v.feed_url) for v in views] == [
        (CH_A, "https://good.example/feed"),
        (CH_B, "https://bad.example/feed"),
    ]
    by_url = {v.feed_url: v for v in views}
    assert by_url["https://good.example/feed"].last_new_item_at == 50
    assert by_url["https://good.example/feed"].health == "ok"
    failing = by_url["https://bad.example/feed"]
    assert (failing.health, failing.consecutive_errors, failing.last_error) == (
        "failing",
        1,
        "HTTP 500",
    )
    assert failing.failing_since == 60
    only_b = await store.subscriptions.list_for_guild(GUILD, channel_id=CH_B)
    assert [v.feed_url for v in only_b] == ["https://bad.example/feed"]
    assert await store.subscriptions.feed_ids_for_guild(OTHER_GUILD) == [good]


async def test_feeds_for_guild_search_and_subscriber_checks(store: Store) -> None:
    alpha = await add_polled_feed(store, "https://alpha.example/feed")
    beta = await add_polled_feed(store, "https://beta.example/feed")
    lonely = await add_polled_feed(store, "https://lonely.example/feed")
    await store.subscriptions.add(GUILD, CH_A, alpha, now=1)
    await store.subscriptions.add(GUILD, CH_B, alpha, now=1)
    await store.subscriptions.add(GUILD, CH_B, beta, now=1)
    await store.subscriptions.add(OTHER_GUILD, CH_C, lonely, now=1)

    feeds = await store.subscriptions.feeds_for_guild(GUILD)
    assert [(f.feed_id, f.channel_ids) for f in feeds] == [
        (alpha, (CH_A, CH_B)),
        (beta, (CH_B,)),
    ]
    assert [f.feed_id for f in await store.subscriptions.feeds_for_guild(GUILD, "BETA")] == [beta]
    # LIKE wildcards in the query are literal.
    assert await store.subscriptions.feeds_for_guild(GUILD, "%") == []
    assert await store.subscriptions.feed_has_subscribers(lonely)
    await store.subscriptions.remove(OTHER_GUILD, lonely)
    assert not await store.subscriptions.feed_has_subscribers(lonely)


async def test_new_items_are_routed_to_instant_channels_in_feed_order(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    sub_a, _ = await store.subscriptions.add(GUILD, CH_A, feed_id, now=1)
    await store.subscriptions.add(GUILD, CH_B, feed_id, mode="digest", now=1)
    await store.subscriptions.add(OTHER_GUILD, CH_C, feed_id, now=1)

    saved = await poll_items(store, feed_id, ["a-3", "a-2", "a-1"], now=100)
    assert len(saved.new_ids) == 3
    rows = await store.deliveries.for_target("channel", CH_A)
    # Oldest first: the feed lists newest first, the channel gets them in publication order.
    items = await store.items.many([r.item_id for r in rows if r.item_id is not None])
    assert [i.stable_id for i in items] == ["a-1", "a-2", "a-3"]
    assert all(r.state == "pending" and r.subscription_id == sub_a.id for r in rows)
    assert len(await store.deliveries.for_target("channel", CH_C)) == 3
    # Digest mode collects; nothing is queued for the channel.
    assert await store.deliveries.for_target("channel", CH_B) == []

    # The same items seen again (unchanged or edited) are not new and queue nothing.
    await poll_items(store, feed_id, ["a-3", "a-2", "a-1"], now=200)
    assert (await store.deliveries.counts())["pending"] == 6


async def test_a_feeds_first_successful_poll_routes_nothing(store: Store) -> None:
    feed = await store.feeds.add("https://new.example/feed", interval_s=60, now=1, first_poll_at=1)
    await store.subscriptions.add(GUILD, CH_A, feed.id, now=1)
    await poll_items(store, feed.id, ["n-2", "n-1"], now=10)
    assert await store.deliveries.for_target("channel", CH_A) == []
    await poll_items(store, feed.id, ["n-3", "n-2", "n-1"], now=20)
    assert len(await store.deliveries.for_target("channel", CH_A)) == 1


async def test_items_and_their_deliveries_commit_together(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    await store.subscriptions.add(GUILD, CH_A, feed_id, now=1)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # The failure comes after the items and deliveries were written, inside the transaction.
    monkeypatch.setattr(polls, "record_success", broken)
    with pytest.raises(RuntimeError):
        await poll_items(store, feed_id, ["a-2", "a-1"], now=100)
    assert await store.items.count(feed_id) == 0
    assert sum((await store.deliveries.counts()).values()) == 0

    monkeypatch.undo()
    saved = await poll_items(store, feed_id, ["a-2", "a-1"], now=100)
    assert len(saved.new_ids) == 2
    assert (await store.deliveries.counts())["pending"] == 2


async def test_a_delivery_is_never_queued_twice(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    sub, _ = await store.subscriptions.add(GUILD, CH_A, feed_id, now=1)
    saved = await poll_items(store, feed_id, ["a-1"], now=100)
    item_id = saved.new_ids[0]
    # Backfill of an item the channel already has, and a notice with a used key: no-ops.
    assert await store.deliveries.queue_backfill(sub.id, [item_id], now=101) == 0
    hi = NewDelivery("n:1", "notice", "user", ADMIN, payload={"text": "hi"})
    assert await queue(store, hi, now=1)
    assert not await queue(store, dataclasses.replace(hi, payload={"text": "again"}), 2)
    [row] = await store.db.reader.execute_fetchall(
        "SELECT count(*) FROM deliveries WHERE dedupe_key = ?", (item_key(item_id, CH_A),)
    )
    assert row[0] == 1
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with store.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO deliveries (dedupe_key, kind, target_kind, target_id, "
                "next_attempt_at, created_at) VALUES (?, 'item', 'channel', ?, 0, 0)",
                (item_key(item_id, CH_A), CH_A),
            )


async def test_backfill_queues_oldest_first_and_skips_other_feeds(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    other = await add_polled_feed(store, "https://b.example/feed")
    saved = await poll_items(store, feed_id, ["a-5", "a-4", "a-3", "a-2", "a-1"], now=10)
    foreign = await poll_items(store, other, ["b-1"], now=10)
    sub, _ = await store.subscriptions.add(GUILD, CH_A, feed_id, now=20)
    newest_first = [i.id for i in await store.items.latest([feed_id], 3)]
    queued = await store.deliveries.queue_backfill(
        sub.id, [*newest_first, foreign.new_ids[0]], now=21
    )
    assert queued == 3
    rows = await store.deliveries.for_target("channel", CH_A)
    items = await store.items.many([r.item_id for r in rows if r.item_id is not None])
    assert [i.stable_id for i in items] == ["a-3", "a-4", "a-5"]
    assert saved.new_ids  # the archive holds all five


async def test_remove_cancels_pending_and_resubscribing_can_backfill_again(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    await store.subscriptions.add(GUILD, CH_A, feed_id, now=1)
    await store.subscriptions.add(GUILD, CH_B, feed_id, now=1)
    saved = await poll_items(store, feed_id, ["a-1"], now=10)
    assert await store.subscriptions.remove(GUILD, feed_id, CH_A) == 1
    states = await delivery_states(store)
    assert states[item_key(saved.new_ids[0], CH_A)] == "cancelled"
    assert states[item_key(saved.new_ids[0], CH_B)] == "pending"
    assert await store.subscriptions.remove(OTHER_GUILD, feed_id) == 0

    sub, created = await store.subscriptions.add(GUILD, CH_A, feed_id, now=20)
    assert created
    assert await store.deliveries.queue_backfill(sub.id, saved.new_ids, now=21) == 1
    assert (await delivery_states(store))[item_key(saved.new_ids[0], CH_A)] == "pending"

    assert await store.subscriptions.remove(GUILD, feed_id) == 2
    assert await store.subscriptions.list_for_guild(GUILD) == []


async def test_pause_then_add_resumes_with_the_newest_paused_posts(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    second = await add_polled_feed(store, "https://b.example/feed")
    sub, _ = await store.subscriptions.add(GUILD, CH_A, feed_id, added_by=ADMIN, now=1)
    sub2, _ = await store.subscriptions.add(GUILD, CH_A, second, now=1)
    first = await poll_items(store, feed_id, ["a-2", "a-1"], now=10)

    await store.deliveries.pause_target("channel", CH_A, "Missing Access", now=20)
    stopped = {s.id for s in await store.subscriptions.for_channel(CH_A) if s.paused}
    assert stopped == {sub.id, sub2.id}
    assert len(await store.deliveries.for_target("channel", CH_A, "paused")) == 2
    paused = await store.subscriptions.get(sub.id)
    assert paused is not None and paused.paused and paused.paused_reason == "Missing Access"
    views = await store.subscriptions.list_for_guild(GUILD)
    assert {v.health for v in views} == {"paused"}

    # While paused, new items are kept as paused deliveries, not sent.
    ids = [f"a-{n}" for n in range(3, 3 + RESUME_REQUEUE_LIMIT + 2)]
    await poll_items(store, feed_id, list(reversed(ids)), now=30)
    assert (await store.deliveries.counts())["pending"] == 0

    resumed, created = await store.subscriptions.add(GUILD, CH_A, feed_id, now=40)
    assert not created and not resumed.paused
    # The channel's other paused subscription resumes with it (the cause was the channel).
    other = await store.subscriptions.get(sub2.id)
    assert other is not None and not other.paused
    rows = await store.deliveries.for_target("channel", CH_A)
    pending = [r for r in rows if r.state == "pending"]
    cancelled = [r for r in rows if r.state == "cancelled"]
    assert len(pending) == RESUME_REQUEUE_LIMIT
    assert len(cancelled) == len(first.new_ids) + len(ids) - RESUME_REQUEUE_LIMIT
    # The newest ones are the ones that go out.
    assert max(r.id for r in cancelled) < min(r.id for r in pending)


async def test_deleting_a_feed_removes_its_subscriptions_and_deliveries(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    await store.subscriptions.add(GUILD, CH_A, feed_id, now=1)
    await poll_items(store, feed_id, ["a-1"], now=10)
    await store.db.write("DELETE FROM feeds WHERE id = ?", (feed_id,))
    assert not await store.subscriptions.feed_has_subscribers(feed_id)
    assert sum((await store.deliveries.counts()).values()) == 0


@pytest.mark.parametrize("store_target", ["sqlite"], indirect=True)  # FTS5's own index rows
async def test_deleting_a_feed_removes_its_search_index_rows(store: Store) -> None:
    """Item ids are reused after the newest items go (INTEGER PRIMARY KEY): an index row left
    behind by a deleted feed would refuse the next item's row and fail that poll."""
    kept = await add_polled_feed(store, "https://kept.example/feed")
    gone = await add_polled_feed(store, "https://gone.example/feed")
    await poll_items(store, kept, ["k-1"], now=10)
    removed = await poll_items(store, gone, ["g-2", "g-1"], now=10)
    await store.db.write("DELETE FROM feeds WHERE id = ?", (gone,))
    async with store.db.reader.execute("SELECT count(*) FROM items_fts") as cursor:
        row = await cursor.fetchone()
    assert row is not None and row[0] == 1
    again = await poll_items(store, kept, ["k-3", "k-2", "k-1"], now=20)
    assert set(again.new_ids) & set(removed.new_ids)  # the ids were reused ...
    assert len(again.new_ids) == 2  # ... and the poll archived both new items


async def test_feed_notice_goes_to_each_active_channel_once(store: Store) -> None:
    feed_id = await add_polled_feed(store, "https://a.example/feed")
    await store.subscriptions.add(GUILD, CH_A, feed_id, now=1)
    await store.subscriptions.add(GUILD, CH_B, feed_id, mode="digest", now=1)
    await store.subscriptions.add(OTHER_GUILD, CH_C, feed_id, now=1)
    await store.deliveries.pause_target("channel", CH_C, "Unknown Channel", now=2)
    key = f"feed-failing:{feed_id}:60"
    assert await store.deliveries.queue_feed_notice(feed_id, {"text": "failing"}, key, now=70) == 2
    assert await store.deliveries.queue_feed_notice(feed_id, {"text": "failing"}, key, now=80) == 0
    (notice,) = await store.deliveries.for_target("channel", CH_A)
    assert notice.dedupe_key == f"{key}:ch:{CH_A}" and notice.payload_data() == {"text": "failing"}
