"""Crash test with the real bot: `python -m bot run` (DigestBot on discord.py) is SIGKILLed at
random moments, over and over, while new items keep arriving; in the end every item was posted
exactly once in every subscribed channel, each feed's items oldest first.

The process killed is the bot itself, started as ``python -m tests.fakediscord.launch bot run``
(the launcher only points discord.py at the loopback fake Discord, then runs ``bot`` as
__main__ in the same process). A round's lifetime counts from the bot's READY (a few rounds
kill it during start-up instead), so a slow start on a busy machine does not turn every kill
into a kill before READY. Feeds come from a loopback FeedServer, polled every second.

The fake de-duplicates nonces for only half a second, less than a restart takes, so Discord's
own de-duplication cannot hide a resend after a crash: the outbox's bookkeeping (claim before
sending, look at the channel's recent messages before sending a maybe-sent delivery again)
must do it. Some rounds add faults: a 500 after Discord stored the message followed by the
kill before discord.py retries (the bot never heard that its post went through), a dropped
connection after the post was stored (the running bot must look before resending), and 429s.

``CRASH_TEST_SEED=N`` replays a run's random choices (kill times, faults, item arrivals).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import pytest

from bot.store import Store
from tests.children import ChildProcesses
from tests.fakediscord import FakeDiscord, FaultRule, StandardGuild, permissions
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]
KILLS = 22
EARLY_KILL_SHARE = 0.2  # rounds killed at a random moment of start-up (before READY)
EARLY_KILL_S = (0.05, 1.0)  # such a kill's moment, from the spawn
RUN_S = (0.2, 2.0)  # how long a bot process lives after READY before its SIGKILL
READY_TIMEOUT_S = 90.0  # start-up on a busy 2-core machine can take many seconds
ITEM_EVERY_S = (0.8, 1.6)  # the pause between two new items (both feeds together)
NONCE_WINDOW_S = 0.5
ARCHIVED_PER_FEED = 2  # items in each feed before it is subscribed (backfill 0: never posted)
FINAL_DRAIN_S = 120.0
MESSAGES = r"/channels/\d+/messages$"
FEEDS = ("alpha", "beta")


@dataclass
class GrowingFeeds:
    """Two RSS feeds on the loopback server that gain items while the bot lives and dies."""

    server: FeedServer
    items: dict[str, list[dict[str, object]]] = field(
        default_factory=lambda: {name: [] for name in FEEDS}
    )
    clock: int = 1_700_000_000

    @staticmethod
    def path(name: str) -> str:
        return f"/{name}.xml"

    def url(self, name: str) -> str:
        return self.server.url(self.path(name))

    def add(self, name: str) -> None:
        number = len(self.items[name]) + 1
        self.clock += 60
        self.items[name].append(
            {
                "title": f"{name.title()} letter {number}",
                "link": f"https://{name}.example.com/p/{number}",
                "guid": f"{name}-{number}",
                "description": f"<p>Issue {number} of the {name} letter, with a few words.</p>",
                "pubDate": formatdate(self.clock, usegmt=True),
            }
        )
        newest_first = list(reversed(self.items[name]))
        self.server.set(self.path(name), rss_feed(newest_first, title=f"The {name} letter"))

    def links_after_subscription(self, name: str) -> list[str]:
        return [str(item["link"]) for item in self.items[name][ARCHIVED_PER_FEED:]]

    async def keep_adding(self, rng: random.Random, stop: asyncio.Event) -> None:
        """A new item every ITEM_EVERY_S, now and then two at once in one feed."""
        while not stop.is_set():
            name = rng.choice(FEEDS)
            self.add(name)
            if rng.random() < 0.15:
                self.add(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(*ITEM_EVERY_S))


@dataclass
class BotProcesses:
    """Starts `digestbot run` against the fake; `children` kills every one of them at the end
    (also when the test times out)."""

    fake: FakeDiscord
    env: dict[str, str]
    log_path: Path
    children: ChildProcesses

    async def start(self) -> asyncio.subprocess.Process:
        # No shell in between: the pid is the Python process that runs the bot.
        with self.log_path.open("ab") as log:
            return await self.children.spawn(
                sys.executable,
                "-m",
                "tests.fakediscord.launch",
                "bot",
                "run",
                cwd=REPO,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def start_ready(self) -> asyncio.subprocess.Process:
        """Start the bot and wait for its READY from the fake (a signal, not a guess)."""
        readies = self.fake.gateway.kinds().count("ready")
        process = await self.start()
        await self.fake.wait_until(
            lambda: (
                self.fake.gateway.kinds().count("ready") > readies or process.returncode is not None
            ),
            timeout=READY_TIMEOUT_S,
            what="the bot's READY",
        )
        assert process.returncode is None, f"the bot exited by itself:\n{self.log_tail()}"
        return process

    async def stop(self, process: asyncio.subprocess.Process) -> None:
        """SIGTERM, as systemd or docker would: the bot exits cleanly."""
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        assert code == 0, self.log_tail()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def log_count(self, text: str) -> int:
        return self.log_path.read_text(errors="replace").count(text)

    async def sigkill(self, process: asyncio.subprocess.Process) -> None:
        # The bot only ever ends by our SIGKILL here: exiting by itself is a crash.
        assert process.returncode is None, f"the bot exited by itself:\n{self.log_tail()}"
        ChildProcesses.sigkill(process)
        code = await asyncio.wait_for(process.wait(), 30)
        assert code == -signal.SIGKILL, self.log_tail()


@dataclass
class RoundLog:
    """What each killed process got done (for the report and to check the kills landed)."""

    kills: int = 0
    before_ready: int = 0
    during_delivery: int = 0
    after_lost_answer: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"kills={self.kills} before_ready={self.before_ready} "
            f"with_posts_in_round={self.during_delivery} "
            f"right_after_lost_500={self.after_lost_answer} faults={self.faults}"
        )


def bot_env(fake: FakeDiscord, tmp_path: Path) -> dict[str, str]:
    env = fake.subprocess_env()
    env.update(
        DIGESTBOT_DB=str(tmp_path / "bot.db"),
        DIGESTBOT_POLL_INTERVAL="1s",
        DIGESTBOT_FETCH_ALLOW="127.0.0.1/32",
        DIGESTBOT_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    for unwanted in ("DIGESTBOT_CONFIG", "DIGESTBOT_HEALTH_PORT", "DIGESTBOT_LLM_BASE_URL"):
        env.pop(unwanted, None)
    return env


def subscriptions(world: StandardGuild, extra: dict[str, int]) -> dict[int, tuple[str, ...]]:
    """channel → feeds it follows: one channel per feed and one following both."""
    return {world.news_id: ("alpha",), extra["both"]: ("alpha", "beta"), extra["b"]: ("beta",)}


async def subscribe(
    fake: FakeDiscord, world: StandardGuild, feeds: GrowingFeeds, plan: dict[int, tuple[str, ...]]
) -> None:
    """`/feed add URL channel backfill:0` by the admin, through the running bot."""
    for channel_id, names in plan.items():
        for name in names:
            handle = await fake.invoke_command(
                "feed add",
                {"url": feeds.url(name), "channel": channel_id, "backfill": 0},
                guild_id=world.guild_id,
                channel_id=world.general_id,
                user_id=world.admin_id,
            )
            answer = await handle.final_message(timeout=15)
            assert answer.ephemeral and f"The {name} letter" in answer.content, answer.content


def posted_links(fake: FakeDiscord, channel_id: int) -> list[str]:
    """The item link of each of the bot's posts in a channel, oldest first."""
    links: list[str] = []
    for message in fake.bot_posts(channel_id):
        urls = [str(embed.get("url")) for embed in message.embeds if embed.get("url")]
        links.append(urls[0] if urls else f"<no embed link: {message.content!r}>")
    return links


def expected_links(feeds: GrowingFeeds, plan: dict[int, tuple[str, ...]]) -> dict[int, set[str]]:
    return {
        channel: {link for name in names for link in feeds.links_after_subscription(name)}
        for channel, names in plan.items()
    }


def all_posted(fake: FakeDiscord, wanted: dict[int, set[str]]) -> bool:
    return all(wanted[c] <= set(posted_links(fake, c)) for c in wanted)


@contextlib.contextmanager
def round_fault(fake: FakeDiscord, rng: random.Random, log: RoundLog) -> Iterator[FaultRule | None]:
    """Maybe a fault on message sends for one round; removed when the round ends. Returns the
    rule of a lost-answer 500 (the round kills the bot right after it is hit)."""
    roll = rng.random()
    rule: FaultRule | None = None
    lost_answer: FaultRule | None = None
    if roll < 0.25:
        kind = "500_after_effect"
        rule = lost_answer = fake.faults.fail(MESSAGES, 500, method="POST", after_effect=True)
    elif roll < 0.35:
        kind = "drop_after_effect"
        rule = fake.faults.drop(MESSAGES, method="POST", after_effect=True)
    elif roll < 0.5:
        kind = "429"
        rule = fake.faults.rate_limit(MESSAGES, method="POST", retry_after=0.3)
    try:
        yield lost_answer
    finally:
        if rule is not None:
            fake.faults.remove(rule)
            if rule.hits:
                log.faults[kind] = log.faults.get(kind, 0) + 1


async def one_round(
    fake: FakeDiscord, bots: BotProcesses, rng: random.Random, log: RoundLog
) -> None:
    """Start the bot, let it live a random while (polling, delivering), SIGKILL it."""
    readies = fake.gateway.kinds().count("ready")
    posts = fake.count("POST", MESSAGES)
    with round_fault(fake, rng, log) as lost_answer:
        if rng.random() < EARLY_KILL_SHARE:
            process = await bots.start()
            lifetime = rng.uniform(*EARLY_KILL_S)
        else:
            process = await bots.start_ready()
            lifetime = rng.uniform(*RUN_S)
        if lost_answer is None:
            await asyncio.sleep(lifetime)  # the kill's moment (chosen, not a wait for a state)
        else:
            # Discord stored the post but the bot got a 500; discord.py waits a second before
            # retrying, so this kill lands while the post is unconfirmed.
            with contextlib.suppress(AssertionError):
                await fake.wait_until(lambda: lost_answer.hits > 0, timeout=lifetime)
            if lost_answer.hits:
                log.after_lost_answer += 1
        await bots.sigkill(process)
    log.kills += 1
    if fake.gateway.kinds().count("ready") == readies:
        log.before_ready += 1
    if fake.count("POST", MESSAGES) > posts:
        log.during_delivery += 1


def delivery_states(db: Path) -> dict[str, int]:
    """The outbox's states, read-only while the bot may be writing."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        rows = conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
    return {str(state): int(count) for state, count in rows}


def nothing_left_to_send(db: Path) -> bool:
    """No delivery pending or in flight: the bot cannot post anything more."""
    states = delivery_states(db)
    return states.get("pending", 0) == states.get("sending", 0) == 0


@pytest.mark.timeout(600)
async def test_the_real_bot_posts_every_item_exactly_once_across_sigkills(
    tmp_path: Path, child_processes: ChildProcesses
) -> None:
    seed = int(os.environ.get("CRASH_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    started = time.monotonic()
    log = RoundLog()
    async with FakeDiscord.serve(nonce_window=NONCE_WINDOW_S) as fake, FeedServer() as server:
        world = fake.state.add_standard_guild()
        extra = {
            "both": fake.state.add_text_channel(world.guild_id, "both-letters").id,
            "b": fake.state.add_text_channel(world.guild_id, "beta-letter").id,
        }
        plan = subscriptions(world, extra)
        feeds = GrowingFeeds(server)
        for name in FEEDS:
            for _ in range(ARCHIVED_PER_FEED):
                feeds.add(name)
        bots = BotProcesses(fake, bot_env(fake, tmp_path), tmp_path / "bot.log", child_processes)
        stop_items = asyncio.Event()
        adder: asyncio.Task[None] | None = None
        try:
            # Subscribe through the first bot process (the subscriptions live in SQLite).
            first = await bots.start_ready()
            await fake.wait_for_sync(1, timeout=READY_TIMEOUT_S)
            await subscribe(fake, world, feeds, plan)
            adder = asyncio.create_task(feeds.keep_adding(rng, stop_items))
            await asyncio.sleep(rng.uniform(*RUN_S))
            await bots.sigkill(first)
            log.kills += 1

            while log.kills < KILLS:
                await one_round(fake, bots, rng, log)

            stop_items.set()
            await adder
            wanted = expected_links(feeds, plan)
            loop_done = time.monotonic()

            # Running (READY) before anything is judged: the work may already be done, and a
            # process still starting has no SIGTERM handler yet.
            final = await bots.start_ready()
            db = tmp_path / "bot.db"
            await fake.wait_until(
                lambda: (
                    final.returncode is not None
                    or (all_posted(fake, wanted) and nothing_left_to_send(db))
                ),
                timeout=FINAL_DRAIN_S,
                what="every item posted in every channel and nothing left to send",
            )
            await bots.stop(final)
        finally:
            stop_items.set()
            if adder is not None and not adder.done():
                adder.cancel()
            child_processes.kill_all()

        found_existing = bots.log_count("was already posted (message")
        maybe_sent = bots.log_count("may have been sent before a crash")
        context = (
            f"seed={seed} {log.summary()} recovered_in_flight_starts={maybe_sent} "
            f"found_already_posted={found_existing} "
            f"loop_s={loop_done - started:.1f} total_s={time.monotonic() - started:.1f}"
        )
        total_expected = sum(len(links) for links in wanted.values())
        context += f" posts_expected={total_expected}"
        for channel, names in plan.items():
            posted = posted_links(fake, channel)
            duplicates = sorted({link for link in posted if posted.count(link) > 1})
            assert not duplicates, f"channel {channel} got duplicates {duplicates}; {context}"
            missing = sorted(wanted[channel] - set(posted))
            extra_posts = sorted(set(posted) - wanted[channel])
            assert not missing, f"channel {channel} is missing {missing}; {context}"
            assert not extra_posts, f"channel {channel} got unexpected {extra_posts}; {context}"
            for name in names:
                order = [link for link in posted if link.startswith(f"https://{name}.")]
                assert order == feeds.links_after_subscription(name), (
                    f"channel {channel}: {name} items out of order {order}; {context}"
                )
        # Nothing else was posted anywhere (no notices: no channel was ever unreachable).
        others = [c for c in fake.state.channels if c not in plan and fake.bot_posts(c)]
        assert not others, f"posts in unsubscribed channels {others}; {context}"
        # Enough happened for the test to mean something.
        assert log.kills >= 20 and log.during_delivery >= 5, context
        assert total_expected >= 30, context

    store = await Store.open(tmp_path / "bot.db")
    try:
        counts = await store.deliveries.counts()
    finally:
        await store.close()
    assert counts["sent"] == total_expected, (counts, context)
    assert counts["pending"] == counts["sending"] == counts["failed"] == 0, (counts, context)
    print(context)


@dataclass
class InFlightOutcome:
    posted: list[str]  # the item links in #news, oldest first
    states: list[tuple[str, str | None]]  # (state, last_error) of each delivery, in queue order
    in_flight_link: str
    later_link: str
    log: str


async def sigkill_in_flight_then_restart_after_an_outage(
    tmp_path: Path, children: ChildProcesses, *, read_message_history: bool
) -> InFlightOutcome:
    """One subscription; the bot's post of a new item reaches Discord, its answer is held and
    the bot is SIGKILLed meanwhile. The outage lasts longer than Discord's nonce window (the
    fake's clock moves past it) and another item arrives; then the bot starts again, with the
    README's permissions or those minus Read Message History (the README's old 19456)."""
    async with FakeDiscord.serve() as fake, FeedServer() as server:
        world = fake.state.add_standard_guild()
        feeds = GrowingFeeds(server)
        for _ in range(ARCHIVED_PER_FEED):
            feeds.add("alpha")
        bots = BotProcesses(fake, bot_env(fake, tmp_path), tmp_path / "bot.log", children)
        bot = await bots.start_ready()
        await fake.wait_for_sync(1, timeout=READY_TIMEOUT_S)
        await subscribe(fake, world, feeds, {world.news_id: ("alpha",)})

        held = fake.faults.delay(MESSAGES, 120.0, method="POST", after_effect=True)
        feeds.add("alpha")
        await fake.wait_until(
            lambda: held.hits == 1 and len(fake.bot_posts(world.news_id)) == 1,
            timeout=READY_TIMEOUT_S,
            what="the post stored, its answer held",
        )
        await bots.sigkill(bot)
        fake.faults.remove(held)
        fake.advance_time(fake.nonce_window + 60)  # the outage outlasts Discord's nonce window
        feeds.add("alpha")
        if not read_message_history:
            without = permissions.DEFAULT_BOT & ~permissions.READ_MESSAGE_HISTORY
            fake.set_role_permissions(world.guild_id, world.bot_role_id, without)
        in_flight_link, later_link = feeds.links_after_subscription("alpha")

        bot = await bots.start_ready()
        db = tmp_path / "bot.db"
        # Per channel the outbox goes in queue order: the later item's post means the one in
        # flight was settled first; with nothing left to send, no post can follow.
        await fake.wait_until(
            lambda: later_link in posted_links(fake, world.news_id) and nothing_left_to_send(db),
            timeout=FINAL_DRAIN_S,
            what="the later item posted and nothing left to send",
        )
        await bots.stop(bot)
        posted = posted_links(fake, world.news_id)
    store = await Store.open(tmp_path / "bot.db")
    try:
        rows = await store.deliveries.for_target("channel", world.news_id)
    finally:
        await store.close()
    return InFlightOutcome(
        posted,
        [(row.state, row.last_error) for row in rows],
        in_flight_link,
        later_link,
        bots.log_tail(),
    )


@pytest.mark.timeout(300)
async def test_a_post_in_flight_at_a_sigkill_is_found_after_an_outage_with_readme_permissions(
    tmp_path: Path, child_processes: ChildProcesses
) -> None:
    outcome = await sigkill_in_flight_then_restart_after_an_outage(
        tmp_path, child_processes, read_message_history=True
    )
    assert outcome.posted == [outcome.in_flight_link, outcome.later_link], outcome.log
    assert outcome.states == [("sent", None), ("sent", None)], outcome.log
    assert "was already posted (message" in outcome.log


@pytest.mark.timeout(300)
async def test_without_read_message_history_a_post_in_flight_is_failed_not_posted_twice(
    tmp_path: Path, child_processes: ChildProcesses
) -> None:
    """The failure mode the README's Read Message History prevents: the bot cannot tell
    whether the post went through, so that one delivery fails with the reason named (the
    post is there once, from before the crash); later posts go on as usual."""
    outcome = await sigkill_in_flight_then_restart_after_an_outage(
        tmp_path, child_processes, read_message_history=False
    )
    assert outcome.posted == [outcome.in_flight_link, outcome.later_link], outcome.log
    (in_flight_state, reason), later = outcome.states
    assert in_flight_state == "failed" and "Read Message History" in (reason or "")
    assert later == ("sent", None)
    assert "cannot check without Read Message History" in outcome.log
