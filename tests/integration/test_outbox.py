"""The outbox worker on a real SQLite file with a recording Sender and injected clocks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time as wall
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio

from bot.delivery.budget import DiscordLimits, LocalBudget, Target
from bot.delivery.discord_sender import DiscordSender
from bot.delivery.outbox import Outbox
from bot.delivery.senders import ConsoleSender, PermanentSendError, RetryableSendError
from bot.model import DeliveryRow
from bot.store import Store
from bot.store.routing import NewDelivery, dm_key
from tests.deliveryfakes import (
    FakeTime,
    RecordingSender,
    add_polled_feed,
    make_outbox,
    poll_items,
    queue,
    until,
)
from tests.fakediscord import FakeDiscord, StandardGuild

GUILD = 111_111_111_111_111_111
CH_A = 900_000_000_000_000_001
CH_B = 900_000_000_000_000_002
SYSTEM_CH = 900_000_000_000_000_009
ADMIN = 555_555_555_555_555_555
MEMBER = 666_666_666_666_666_666


@pytest_asyncio.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_target)
    yield opened
    await opened.close()


def outbox(store: Store, sender: RecordingSender, time: FakeTime, **kwargs: object) -> Outbox:
    options: dict[str, object] = {
        "clock": time.clock,
        "monotonic": time.monotonic,
        "sleep": time.sleep,
        "jitter": lambda: 0.5,
        "rate_per_s": 20.0,
        "channel_burst": 5,
        "channel_window_s": 5.0,
    }
    options.update(kwargs)
    return make_outbox(store, sender, **options)  # type: ignore[arg-type]


async def subscribed_feed(store: Store, url: str, *channels: int) -> int:
    feed_id = await add_polled_feed(store, url)
    for channel in channels:
        await store.subscriptions.add(GUILD, channel, feed_id, added_by=ADMIN, now=1)
    return feed_id


async def test_each_channel_gets_each_item_once_oldest_first(store: Store) -> None:
    time = FakeTime()
    feed_a = await subscribed_feed(store, "https://a.example/feed", CH_A, CH_B)
    feed_b = await subscribed_feed(store, "https://b.example/feed", CH_A)
    await poll_items(store, feed_a, ["a-3", "a-2", "a-1"], now=time.now)
    await poll_items(store, feed_b, ["b-2", "b-1"], now=time.now)
    await poll_items(store, feed_a, ["a-4", "a-3", "a-2", "a-1"], now=time.now)
    sender = RecordingSender()
    worker = outbox(store, sender, time)

    assert await worker.drain() == 10
    assert sender.titles_for(CH_A) == [
        "Post a-1",
        "Post a-2",
        "Post a-3",
        "Post b-1",
        "Post b-2",
        "Post a-4",
    ]
    assert sender.titles_for(CH_B) == ["Post a-1", "Post a-2", "Post a-3", "Post a-4"]
    # Nonces are derived from the delivery id and fit Discord's 25 characters.
    assert all(c.nonce == f"d{c.delivery_id}" and len(c.nonce) <= 25 for c in sender.calls)
    counts = await store.deliveries.counts()
    assert (counts["sent"], counts["pending"], counts["sending"]) == (10, 0, 0)
    sent = await store.deliveries.for_target("channel", CH_A, "sent")
    assert all(r.message_id is not None and r.sent_at == time.now for r in sent)
    # Nothing is sent twice: a second drain finds nothing to do.
    assert await worker.drain() == 0
    assert len(sender.calls) == 10


async def test_pacing_per_channel_and_global(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A, CH_B)
    await poll_items(store, feed, [f"a-{n}" for n in range(12, 0, -1)], now=time.now)
    sender = RecordingSender()
    sends: list[tuple[float, tuple[str, int]]] = []
    original = sender._record

    def stamped(call, delivery):  # type: ignore[no-untyped-def]
        sends.append((time.mono, call.target))
        return original(call, delivery)

    sender._record = stamped  # type: ignore[method-assign]
    worker = outbox(store, sender, time, rate_per_s=10.0)
    assert await worker.drain() == 24
    for channel in (CH_A, CH_B):
        times = [t for t, target in sends if target == ("channel", channel)]
        assert len(times) == 12
        # No 5-second window holds more than 5 sends to one channel.
        for i in range(len(times) - 5):
            assert times[i + 5] - times[i] >= 5.0 - 1e-9
    # Globally, requests are at least 1/rate apart.
    stamps = sorted(t for t, _ in sends)
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 0.1 - 1e-9
    assert sender.titles_for(CH_A) == [f"Post a-{n}" for n in range(1, 13)]


async def test_retryable_errors_back_off_and_hold_later_items(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A, CH_B)
    await poll_items(store, feed, ["a-2", "a-1"], now=time.now)
    failures = {"left": 3}

    def flaky(delivery: DeliveryRow) -> Exception | None:
        if delivery.target_id == CH_A and failures["left"] > 0:
            failures["left"] -= 1
            return RetryableSendError("Discord server error 503")
        return None

    sender = RecordingSender(fail=flaky)
    worker = outbox(store, sender, time, backoff_base_s=10.0)

    await worker.drain()
    # CH_B is unaffected; CH_A's first item waits for its retry and holds back the second.
    assert sender.titles_for(CH_B) == ["Post a-1", "Post a-2"]
    assert sender.titles_for(CH_A) == []
    head = (await store.deliveries.for_target("channel", CH_A))[0]
    assert head.state == "pending" and head.attempts == 1 and head.maybe_sent
    assert head.last_error == "Discord server error 503"
    # Backoff with jitter fixed at 0.5: 10 * 0.75, then 20 * 0.75, then 40 * 0.75.
    assert head.next_attempt_at == time.now + 7.5
    time.advance(7.4)
    await worker.drain()
    assert sender.attempts.count(head.id) == 1
    time.advance(0.1)
    await worker.drain()
    head = (await store.deliveries.for_target("channel", CH_A))[0]
    assert head.attempts == 2 and head.next_attempt_at == time.now + 15.0
    time.advance(15.0)
    await worker.drain()
    time.advance(30.0)
    await worker.drain()
    assert sender.titles_for(CH_A) == ["Post a-1", "Post a-2"]
    # It may have reached Discord before (a 503), so the worker looked before sending again.
    assert head.id in sender.lookups
    assert (await store.deliveries.counts())["sent"] == 4


async def test_rate_limit_waits_what_discord_asks(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    await poll_items(store, feed, ["a-1"], now=time.now)
    calls = {"n": 0}

    def limited(delivery: DeliveryRow) -> Exception | None:
        calls["n"] += 1
        return (
            RetryableSendError("429", retry_after=42.0, maybe_sent=False)
            if calls["n"] == 1
            else None
        )

    sender = RecordingSender(fail=limited)
    worker = outbox(store, sender, time)
    await worker.drain()
    row = (await store.deliveries.for_target("channel", CH_A))[0]
    assert row.next_attempt_at == time.now + 42.5
    assert not row.maybe_sent  # a 429 never reached the channel
    time.advance(43)
    await worker.drain()
    assert sender.lookups == []
    assert sender.titles_for(CH_A) == ["Post a-1"]


async def test_forbidden_pauses_the_channel_and_tells_the_admin_once(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A, CH_B)
    await poll_items(store, feed, ["a-2", "a-1"], now=time.now)

    def forbidden(delivery: DeliveryRow) -> Exception | None:
        if delivery.target_id == CH_A:
            return PermanentSendError("Missing Permissions: I need …")
        return None

    sender = RecordingSender(fail=forbidden, system_channels={GUILD: SYSTEM_CH})
    worker = outbox(store, sender, time)
    await worker.drain()

    subscription = (await store.subscriptions.for_channel(CH_A))[0]
    assert subscription.paused and subscription.paused_reason == "Missing Permissions: I need …"
    assert [r.state for r in await store.deliveries.for_target("channel", CH_A)] == [
        "paused",
        "paused",
    ]
    assert sender.attempts.count((await store.deliveries.for_target("channel", CH_A))[0].id) == 1
    # Exactly one DM to the admin who added it, and one notice in the system channel.
    dms = [c for c in sender.calls if c.target == ("user", ADMIN)]
    notices = [c for c in sender.calls if c.target == ("channel", SYSTEM_CH)]
    assert len(dms) == 1 and len(notices) == 1
    assert dms[0].text is not None and f"<#{CH_A}>" in dms[0].text
    assert "Missing Permissions" in dms[0].text and "/feed add" in dms[0].text
    # The other channel is unaffected.
    assert sender.titles_for(CH_B) == ["Post a-1", "Post a-2"]

    # Not retried in a loop: time passes, new items arrive, nothing is attempted there.
    attempts = len(sender.attempts)
    time.advance(3600)
    await poll_items(store, feed, ["a-3", "a-2", "a-1"], now=time.now)
    await worker.drain()
    assert len(sender.attempts) == attempts + 1  # only CH_B's new post
    assert sender.titles_for(CH_B)[-1] == "Post a-3"

    # The admin fixes the permissions and adds the feed again: the posts go out, in order.
    sender.fail = None
    await store.subscriptions.add(GUILD, CH_A, feed, added_by=ADMIN, now=time.now)
    await worker.drain()
    assert sender.titles_for(CH_A) == ["Post a-1", "Post a-2", "Post a-3"]


async def test_feed_titles_in_pause_notices_cannot_ping(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    async with store.db.transaction() as tx:
        await tx.execute(
            "UPDATE feeds SET title = '@everyone <@&123> **bold**' WHERE id = ?", (feed,)
        )
    await poll_items(store, feed, ["a-1"], now=time.now)
    sender = RecordingSender(
        fail=lambda d: PermanentSendError("Unknown Channel") if d.target_id == CH_A else None
    )
    await outbox(store, sender, time).drain()
    (dm,) = [c for c in sender.calls if c.target == ("user", ADMIN)]
    assert dm.text is not None
    assert "@everyone" not in dm.text and "<@&123>" not in dm.text
    assert "\\*\\*bold\\*\\*" in dm.text


class BudgetLog(LocalBudget):
    """The in-process budget, logging each call in order: ("take" | "sent", target)."""

    def __init__(self, time: FakeTime) -> None:
        super().__init__(DiscordLimits(), time.monotonic, time.sleep)
        self.calls: list[tuple[str, Target | None]] = []

    async def take(self, target: Target | None) -> None:
        self.calls.append(("take", target))
        await super().take(target)

    async def sent(self, target: Target) -> None:
        self.calls.append(("sent", target))
        await super().sent(target)


async def test_a_maybe_sent_delivery_counts_its_targets_last_send_from_now(store: Store) -> None:
    """A process died with a post on its way (taken over: maybe sent). Its request was counted
    when it took the slot and may have arrived much later, with no answer left to count it
    from its arrival: the budget hears that it has arrived by now before the channel's next
    send is counted (else a shared budget let a sixth post into that channel's 5 s)."""
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    await poll_items(store, feed, ["a-1"], now=time.now)
    (pending,) = await store.deliveries.for_target("channel", CH_A)
    assert await store.deliveries.mark_sending(pending.id, time.now)  # then the crash
    budget = BudgetLog(time)
    sender = RecordingSender()
    await outbox(store, sender, time, budget=budget).drain()

    assert sender.lookups == [pending.id] and len(sender.titles_for(CH_A)) == 1
    target = ("channel", CH_A)
    assert [call for call in budget.calls if call[1] == target] == [
        ("sent", target),  # the dead attempt's send, counted from now
        ("take", target),  # the send itself
        ("sent", target),  # and its answer
    ]


async def test_a_maybe_sent_delivery_found_in_the_channel_is_not_sent_again(
    store: Store,
) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A, CH_B)
    await poll_items(store, feed, ["a-1"], now=time.now)
    in_a, in_b = (
        (await store.deliveries.for_target("channel", CH_A))[0],
        (await store.deliveries.for_target("channel", CH_B))[0],
    )
    # A crash right after both were claimed: 'sending' is committed, 'sent' never was.
    assert await store.deliveries.mark_sending(in_a.id, time.now)
    assert await store.deliveries.mark_sending(in_b.id, time.now)
    sender = RecordingSender(existing={in_a.id: 777})
    worker = outbox(store, sender, time)
    await worker.drain()

    assert sorted(sender.lookups) == sorted([in_a.id, in_b.id])
    found = await store.deliveries.get(in_a.id)
    assert found is not None and (found.state, found.message_id) == ("sent", 777)
    assert not found.maybe_sent
    # CH_A's post was already there: nothing sent. CH_B's never arrived: sent, same nonce.
    assert sender.titles_for(CH_A) == []
    assert [c.nonce for c in sender.calls] == [f"d{in_b.id}"]


async def test_unexpected_errors_are_retried_then_failed(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    await poll_items(store, feed, ["a-1"], now=time.now)
    sender = RecordingSender(fail=lambda d: ValueError("bug"))
    worker = outbox(store, sender, time, max_attempts_on_unknown_error=3, backoff_base_s=1.0)
    for _ in range(5):
        await worker.drain()
        time.advance(100)
    row = (await store.deliveries.for_target("channel", CH_A))[0]
    assert row.state == "failed" and row.attempts == 3 and "bug" in (row.last_error or "")
    assert len(sender.attempts) == 3


async def test_closed_dms_pause_only_that_member(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed")
    saved = await poll_items(store, feed, ["a-2", "a-1"], now=time.now)
    for user in (MEMBER, ADMIN):
        topic = (await store.topics.add(GUILD, user, "post", "post", now=time.now)).topic
        assert topic is not None
        payload = {"topics": [{"id": topic.id, "guild_id": GUILD, "query": "post"}]}
        for item_id in saved.new_ids:
            await queue(
                store,
                NewDelivery(
                    dm_key(item_id, user),
                    "dm",
                    "user",
                    user,
                    item_id,
                    guild_id=GUILD,
                    payload=payload,
                ),
                time.now,
            )
    told: list[tuple[int, str]] = []

    async def unreachable(user_id: int, reason: str) -> None:
        told.append((user_id, reason))

    sender = RecordingSender(
        fail=lambda d: PermanentSendError("DMs closed") if d.target_id == MEMBER else None
    )
    worker = outbox(store, sender, time, on_user_unreachable=unreachable)
    await worker.drain()
    assert told == [(MEMBER, "DMs closed")]
    assert [r.state for r in await store.deliveries.for_target("user", MEMBER)] == [
        "paused",
        "paused",
    ]
    assert (
        len(
            [
                a
                for a in sender.attempts
                if a in {r.id for r in await store.deliveries.for_target("user", MEMBER)}
            ]
        )
        == 1
    )
    assert [c.title for c in sender.calls if c.target == ("user", ADMIN)] == [
        "Post a-1",
        "Post a-2",
    ]
    # DM deliveries never carry a role mention.
    assert all(c.mention_role_id is None for c in sender.calls)


async def test_mention_role_is_passed_only_for_opted_in_subscriptions(store: Store) -> None:
    time = FakeTime()
    feed = await add_polled_feed(store, "https://a.example/feed")
    await store.subscriptions.add(GUILD, CH_A, feed, mention_role_id=4242, now=1)
    await store.subscriptions.add(GUILD, CH_B, feed, now=1)
    await poll_items(store, feed, ["a-1"], now=time.now)
    sender = RecordingSender()
    await outbox(store, sender, time).drain()
    assert {c.target[1]: c.mention_role_id for c in sender.calls} == {CH_A: 4242, CH_B: None}


async def test_run_sends_when_woken_and_stops(store: Store) -> None:
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    sender = RecordingSender()
    waiting = asyncio.Event()  # the loop's heartbeat: it is past its wake-flag reset
    worker = make_outbox(store, sender, idle_s=30.0, rate_per_s=100.0, heartbeat=waiting.set)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(waiting.wait(), 5)
    await poll_items(store, feed, ["a-1"], now=0.0)
    worker.wake()
    await until(lambda: bool(sender.calls), what="the woken outbox's send")
    assert sender.titles_for(CH_A) == ["Post a-1"]
    stop.set()
    await asyncio.wait_for(task, 2.0)


async def test_console_sender_prints_items_and_notices(store: Store) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    await poll_items(store, feed, ["a-1"], now=time.now)
    failing = NewDelivery("n:1", "notice", "channel", CH_A, payload={"text": "feed is failing"})
    await queue(store, failing, time.now)
    lines: list[str] = []
    worker = make_outbox(store, ConsoleSender(lines.append), clock=time.clock)
    assert await worker.drain() == 2
    assert "Post a-1" in lines[0] and "https://example.com/a-1" in lines[0]
    assert lines[1] == "feed is failing"


# --- the Outbox with the real DiscordSender against the loopback fake Discord ----------------


@contextlib.asynccontextmanager
async def discord_client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A connected discord.py client (guilds intent only) with the guild cached."""
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(
        intents=intents, allowed_mentions=discord.AllowedMentions.none(), guild_ready_timeout=0.1
    )
    task = asyncio.create_task(client.start(fake.token))
    try:
        await fake.wait_until(lambda: bool(client.guilds), timeout=5, what="the client's guild")
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def world_feed(store: Store, world: StandardGuild, *channels: int) -> int:
    feed = await add_polled_feed(store, "https://a.example/feed")
    for channel in channels:
        await store.subscriptions.add(world.guild_id, channel, feed, added_by=world.admin_id, now=1)
    return feed


async def test_discord_posts_carry_the_nonce_and_ping_no_one(store: Store) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        role = fake.state.add_role(world.guild_id, "Readers", 0, mentionable=True)
        feed = await world_feed(store, world, world.news_id)
        await store.subscriptions.add(
            world.guild_id, world.general_id, feed, mention_role_id=role.id, now=1
        )
        await poll_items(store, feed, ["a-2", "a-1"], now=time_now())
        async with store.db.transaction() as tx:
            await tx.execute(
                "UPDATE items SET title = '@everyone free nitro <@&123> <@456>' "
                "WHERE stable_id = 'a-2'"
            )
        async with discord_client(fake) as client:
            worker = make_outbox(store, DiscordSender(client))
            assert await worker.drain() == 4
        posts = fake.bot_posts(world.news_id)
        assert [p.embeds[0]["url"] for p in posts] == [
            "https://example.com/a-1",
            "https://example.com/a-2",
        ]
        rows = await store.deliveries.for_target("channel", world.news_id)
        assert [p.nonce for p in posts] == [f"d{r.id}" for r in rows]
        assert [r.message_id for r in rows] == [p.id for p in posts]
        assert all(not p.pinged.anyone for p in posts)
        assert all(p.allowed_mentions == {"parse": []} for p in posts)
        # The opted-in role is the only ping a post can make.
        general = fake.bot_posts(world.general_id)
        assert [sorted(p.pinged.roles) for p in general] == [[role.id], [role.id]]
        assert not any(p.pinged.everyone or p.pinged.users for p in general)


async def test_discord_missing_permissions_pause_and_tell_the_admin(store: Store) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        feed = await world_feed(store, world, world.no_send_id, world.news_id)
        await poll_items(store, feed, ["a-1"], now=time_now())
        async with discord_client(fake) as client:
            worker = make_outbox(store, DiscordSender(client))
            await worker.drain()
        (paused,) = await store.subscriptions.for_channel(world.no_send_id)
        assert paused.paused and "Missing Permissions" in (paused.paused_reason or "")
        assert len(fake.bot_posts(world.news_id)) == 1
        (dm,) = fake.dms(world.admin_id)
        assert f"<#{world.no_send_id}>" in dm.content and "/feed add" in dm.content
        (notice,) = fake.bot_posts(world.general_id)
        assert notice.content == dm.content and not notice.pinged.anyone
        sends = fake.count("POST", rf"/channels/{world.no_send_id}/messages$")
        assert sends == 1  # never retried in a loop


async def test_discord_a_post_made_before_a_crash_is_found_not_repeated(store: Store) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        feed = await world_feed(store, world, world.news_id)
        await poll_items(store, feed, ["a-2", "a-1"], now=time_now())
        first, _ = await store.deliveries.for_target("channel", world.news_id)
        # The bot posted the first item, then crashed before recording it; the nonce
        # window has passed since, so only a look at the channel can tell.
        await store.deliveries.mark_sending(first.id, time_now())
        seeded = fake.seed_message(
            world.news_id,
            fake.state.bot.id,
            embeds=[{"title": "Post a-1", "url": "https://example.com/a-1"}],
        )
        fake.advance_time(600)
        async with discord_client(fake) as client:
            await make_outbox(store, DiscordSender(client)).drain()
        posts = fake.bot_posts(world.news_id)
        assert [p.embeds[0]["url"] for p in posts] == [
            "https://example.com/a-1",
            "https://example.com/a-2",
        ]
        row = await store.deliveries.get(first.id)
        assert row is not None and (row.state, row.message_id) == ("sent", seeded.id)


async def test_discord_lost_answers_and_server_errors_post_once(store: Store) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        feed = await world_feed(store, world, world.news_id)
        await poll_items(store, feed, ["a-3", "a-2", "a-1"], now=time_now())
        pattern = rf"/channels/{world.news_id}/messages$"
        fake.faults.fail(pattern, 500, count=1, after_effect=True)
        fake.faults.fail(pattern, 503, count=1)
        async with discord_client(fake) as client:
            worker = make_outbox(store, DiscordSender(client), backoff_base_s=0.01)
            await until(lambda: drained(worker, store, 3), what="three posts sent")
        posts = fake.bot_posts(world.news_id)
        assert [p.embeds[0]["url"] for p in posts] == [
            f"https://example.com/a-{n}" for n in (1, 2, 3)
        ]


async def test_discord_without_history_a_lost_answer_is_resent_within_the_nonce_window(
    store: Store,
) -> None:
    """No Read Message History: the sender cannot look, but it sent this nonce seconds ago,
    so the resend is safe (Discord returns the message it has) and the delivery is sent."""
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        feed = await world_feed(store, world, world.no_history_id)
        await poll_items(store, feed, ["a-1"], now=time_now())
        pattern = rf"/channels/{world.no_history_id}/messages$"
        lost = fake.faults.fail(pattern, 503, method="POST", after_effect=True)
        async with discord_client(fake) as client:
            worker = make_outbox(store, DiscordSender(client), backoff_base_s=0.01)
            await until(lambda: drained(worker, store, 1), what="the post sent")
        assert lost.hits == 1
        assert fake.count("POST", pattern) == 2
        (post,) = fake.bot_posts(world.no_history_id)
        (row,) = await store.deliveries.for_target("channel", world.no_history_id)
        assert (row.state, row.message_id) == ("sent", post.id)


async def test_discord_closed_dms_pause_the_member(store: Store) -> None:
    async with FakeDiscord.serve() as fake:
        world = fake.state.add_standard_guild()
        feed = await add_polled_feed(store, "https://a.example/feed")
        saved = await poll_items(store, feed, ["a-1"], now=time_now())
        for user in (world.closed_dms_id, world.member_id):
            topic = (await store.topics.add(world.guild_id, user, "ai", "ai", now=time_now())).topic
            assert topic is not None
            await queue(
                store,
                NewDelivery(
                    dm_key(saved.new_ids[0], user),
                    "dm",
                    "user",
                    user,
                    saved.new_ids[0],
                    guild_id=world.guild_id,
                    payload={
                        "topics": [{"id": topic.id, "guild_id": world.guild_id, "query": "ai"}]
                    },
                ),
                time_now(),
            )
        async with discord_client(fake) as client:
            await make_outbox(store, DiscordSender(client)).drain()
        (dm,) = fake.dms(world.member_id)
        guild_name = fake.state.guilds[world.guild_id].name
        assert dm.content == f"🔔 A new post matches your topic **ai** in **{guild_name}**"
        assert dm.embeds[0]["url"] == "https://example.com/a-1"
        (closed,) = await store.deliveries.for_target("user", world.closed_dms_id)
        assert closed.state == "paused" and "DMs are closed" in (closed.last_error or "")


async def drained(worker: Outbox, store: Store, sent: int) -> bool:
    """Send what is due; True once `sent` deliveries are sent."""
    await worker.drain()
    return (await store.deliveries.counts())["sent"] == sent


def time_now() -> float:
    return wall.time()


async def test_a_bookkeeping_failure_after_a_send_does_not_block_or_repeat(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    await poll_items(store, feed, ["a-2", "a-1"], now=time.now)
    original = store.deliveries.mark_sent
    broken = {"left": 1}

    async def flaky_mark_sent(delivery_id: int, message_id: int | None, now: float) -> None:
        if broken["left"]:
            broken["left"] -= 1
            raise OSError("disk I/O error")
        await original(delivery_id, message_id, now)

    monkeypatch.setattr(store.deliveries, "mark_sent", flaky_mark_sent)
    sender = RecordingSender()
    worker = outbox(store, sender, time, backoff_base_s=1.0)
    await worker.drain()
    head = (await store.deliveries.for_target("channel", CH_A))[0]
    assert head.state == "pending" and head.maybe_sent
    # Discord did get it: the next attempt finds it instead of posting again.
    sender.existing[head.id] = 4242
    time.advance(2)
    await worker.drain()
    assert sender.titles_for(CH_A) == ["Post a-1", "Post a-2"]
    row = await store.deliveries.get(head.id)
    assert row is not None and (row.state, row.message_id) == ("sent", 4242)


async def test_a_failed_crash_recovery_is_tried_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery a crash left 'sending' blocks its channel until recovery has run; a
    recovery that fails (database locked at start) must run again, not count as done."""
    time = FakeTime()
    feed = await subscribed_feed(store, "https://a.example/feed", CH_A)
    await poll_items(store, feed, ["a-1"], now=time.now)
    (delivery,) = await store.deliveries.for_target("channel", CH_A)
    assert await store.deliveries.mark_sending(delivery.id, time.now)  # the crash
    original = store.deliveries.recover_in_flight
    broken = {"left": 1}

    async def flaky_recover(now: float) -> int:
        if broken["left"]:
            broken["left"] -= 1
            raise OSError("database is locked")
        return await original(now)

    monkeypatch.setattr(store.deliveries, "recover_in_flight", flaky_recover)
    sender = RecordingSender()
    worker = outbox(store, sender, time)
    with pytest.raises(OSError):
        await worker.drain()
    assert await worker.drain() == 1
    assert sender.titles_for(CH_A) == ["Post a-1"]
