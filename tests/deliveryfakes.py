"""Helpers for delivery tests: stored items without the ingest stages, and a recording Sender."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.delivery.budget import DiscordLimits, LocalBudget
from bot.delivery.compose import DeliveryComposer
from bot.delivery.outbox import Outbox, OutboxClock, OutboxHooks, OutboxSettings
from bot.delivery.senders import Sender
from bot.delivery.terminal import to_text
from bot.features.digest.service import DigestService
from bot.model import DeliveryRow, EnrichedItem, Entry, Message
from bot.store import Store
from bot.store.items import FreshItem, SaveResult
from bot.store.polls import PollSuccess, commit_poll
from bot.store.routing import NewDelivery, queue_delivery


def fresh_item(stable_id: str, *, title: str | None = None, published: float = 0.0) -> FreshItem:
    """A FreshItem as the enrich stage would hand it to the store."""
    title = title or f"Post {stable_id}"
    entry = Entry(
        stable_id=stable_id,
        title=title,
        url=f"https://example.com/{stable_id}",
        author="Ann",
        published=datetime.fromtimestamp(published, tz=UTC) if published else None,
        content_html=f"<p>{title} body</p>",
        description_html="",
    )
    digest = hashlib.sha256(f"{title}|{stable_id}".encode()).hexdigest()
    enriched = EnrichedItem(entry, f"{title} body", f"Summary of {title}", None, digest)
    return FreshItem(enriched, digest)


async def poll_items(
    store: Store, feed_id: int, stable_ids: Sequence[str], *, now: float, route: bool = True
) -> SaveResult:
    """Commit one successful poll that saw these items (listed newest first, like a feed)."""
    fresh = [
        fresh_item(sid, published=1_700_000_000 + int(sid.split("-")[-1]))
        if sid.split("-")[-1].isdigit()
        else fresh_item(sid)
        for sid in stable_ids
    ]
    success = PollSuccess(now, now + 60, None, None, None, None)
    return await commit_poll(store.db, feed_id, fresh, success, route=route)


async def queue(store: Store, delivery: NewDelivery, now: float) -> bool:
    """Queue one delivery in its own write transaction; False if its key was queued before."""
    async with store.db.transaction() as tx:
        return await queue_delivery(tx, delivery, now)


async def add_polled_feed(store: Store, url: str, *, now: float = 1.0) -> int:
    """A feed that has had one successful (empty) poll, so later new items are routed."""
    feed = await store.feeds.add(url, interval_s=60, now=now, first_poll_at=now)
    await poll_items(store, feed.id, [], now=now)
    return feed.id


@dataclass
class SendCall:
    delivery_id: int
    kind: str
    target: tuple[str, int]
    nonce: str
    item_id: int | None
    title: str | None
    text: str | None
    mention_role_id: int | None
    shown: str = ""  # the whole message as console mode prints it


@dataclass
class RecordingSender:
    """A Sender that records every send. `fail` decides per call: return an exception to
    raise it instead of sending (the call is still recorded as attempted)."""

    fail: Callable[[DeliveryRow], Exception | None] | None = None
    existing: dict[int, int] = field(default_factory=dict)  # delivery id → message id found
    system_channels: dict[int, int] = field(default_factory=dict)
    calls: list[SendCall] = field(default_factory=list)  # successful sends, in order
    attempts: list[int] = field(default_factory=list)  # delivery ids of every attempt
    lookups: list[int] = field(default_factory=list)  # delivery ids given to find_existing
    next_message_id: int = 1000

    def _record(self, call: SendCall, delivery: DeliveryRow) -> int:
        self.attempts.append(delivery.id)
        if self.fail is not None:
            error = self.fail(delivery)
            if error is not None:
                raise error
        self.calls.append(call)
        self.next_message_id += 1
        return self.next_message_id

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int:
        embed = message.embeds[0] if message.embeds else None
        call = SendCall(
            delivery.id,
            delivery.kind,
            (delivery.target_kind, delivery.target_id),
            nonce,
            delivery.item_id if embed is not None else None,
            embed.title if embed is not None else None,
            message.content if embed is None else None,
            message.mention_role_id,
            to_text(message),
        )
        return self._record(call, delivery)

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        self.lookups.append(delivery.id)
        return self.existing.get(delivery.id)

    async def guild_name(self, guild_id: int) -> str | None:
        return None

    async def guild_locale(self, guild_id: int) -> str | None:
        return None

    async def system_channel_for(self, guild_id: int) -> int | None:
        return self.system_channels.get(guild_id)

    def titles_for(self, channel_id: int) -> list[str]:
        return [c.title or "" for c in self.calls if c.target == ("channel", channel_id)]


class FakeTime:
    """A wall clock that moves only when told, and a monotonic clock that also moves when
    slept on (pacing sleeps never wait for real)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.mono = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


def make_outbox(store: Store, sender: Sender, **options: Any) -> Outbox:
    """An Outbox as the runtime builds it (every kind of delivery composed by its feature),
    with `clock`, `monotonic`, `sleep`, `jitter`, `budget` (else a LocalBudget of
    `rate_per_s`, `channel_burst` and `channel_window_s`) and any OutboxSettings field given by
    name."""
    clock_names = {"clock": "wall", "sleep": "sleep", "jitter": "jitter"}
    clock = OutboxClock(
        **{clock_names[k]: options.pop(k) for k in list(options) if k in clock_names}
    )
    limit_names = {
        "rate_per_s": "requests_per_s",
        "channel_burst": "target_burst",
        "channel_window_s": "target_window_s",
    }
    limits = DiscordLimits(
        **{limit_names[k]: options.pop(k) for k in list(options) if k in limit_names}
    )
    monotonic = options.pop("monotonic", time.monotonic)
    budget = options.pop("budget", None) or LocalBudget(limits, monotonic, clock.sleep)
    hooks = OutboxHooks(
        **{
            k: options.pop(k)
            for k in list(options)
            if k in ("on_user_unreachable", "on_result", "heartbeat")
        }
    )
    digests = DigestService(store, clock=clock.wall, wake_outbox=lambda: None)
    composer = DeliveryComposer(store, digests, sender.guild_name)
    return Outbox(
        store,
        sender,
        composer,
        settings=OutboxSettings(**options),
        clock=clock,
        budget=budget,
        hooks=hooks,
    )


async def until(
    check: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 (bounded wait)
    what: str = "condition",
) -> None:
    """Re-check a condition (a row, a state, a count; sync or async) every few milliseconds
    until it holds; fail naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
