"""The outbox worker: sends queued deliveries exactly once, in order, within Discord's limits.

Exactly once across crashes: a delivery is marked 'sending' (committed) before the request
goes out and 'sent' with Discord's message id after. A crash in between leaves it 'sending';
at the next start it is flagged `maybe_sent`, and the worker first asks the sender whether the
message is already there (the nonce also makes Discord itself drop a quick resend).

Order: a target (channel or DM) gets its deliveries strictly in queue order, one at a time; a
delivery waiting for a retry holds back the later ones of the same target.

Pacing: a global request rate well under Discord's 50/s and at most `channel_burst` sends per
`channel_window_s` to one target. Failures: 5xx, 429, timeouts are retried with exponential
backoff and jitter, forever; 403/404 pause the target (and its subscriptions) and tell the
people concerned once; anything else is retried a few times, then failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.deliver.render import ItemView
from bot.deliver.sanitize import fit_text
from bot.deliver.senders import PermanentSendError, RetryableSendError, Sender, SentMessage
from bot.deliver.views import item_view
from bot.store import Store
from bot.store.deliveries import DeliveryRow, Notice
from bot.store.routing import DeliveryKind
from bot.store.subscriptions import SubscriptionRow

log = logging.getLogger(__name__)

DeliveryHandler = Callable[[Sender, DeliveryRow], Awaitable[SentMessage]]
UserUnreachableHook = Callable[[int, str], Awaitable[None]]
ResultHook = Callable[[DeliveryKind, bool], None]  # (delivery kind, sent?) for metrics

PAUSED_NOTICE_TITLES = 10


@dataclass
class OutboxStats:
    """Counters since start (for metrics and logs)."""

    sent: int = 0
    found_existing: int = 0
    retried: int = 0
    failed: int = 0
    paused_targets: int = 0


@dataclass(frozen=True, slots=True)
class _PassResult:
    processed: int
    wait_s: float | None  # something is due but held back by pacing for this long


class _Pacer:
    """A global minimum spacing between requests, and a sliding window per target."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        window_s: float,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._spacing = 1.0 / rate_per_s
        self._burst = burst
        self._window_s = window_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next_slot = 0.0
        self._sends: dict[tuple[str, int], deque[float]] = {}

    async def request_slot(self) -> None:
        """Wait for the next global request slot."""
        async with self._lock:
            now = self._monotonic()
            if self._next_slot > now:
                await self._sleep(self._next_slot - now)
                now = max(self._monotonic(), self._next_slot)
            self._next_slot = now + self._spacing

    def target_wait(self, target: tuple[str, int]) -> float:
        """Seconds until `target` may get another send (0: now)."""
        sends = self._sends.get(target)
        if not sends:
            return 0.0
        now = self._monotonic()
        while sends and now - sends[0] >= self._window_s:
            sends.popleft()
        if len(sends) < self._burst:
            return 0.0
        return sends[0] + self._window_s - now

    def record_send(self, target: tuple[str, int]) -> None:
        self._sends.setdefault(target, deque()).append(self._monotonic())


class Outbox:
    """Sends the deliveries queued in the store through a Sender."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        clock: Callable[[], float] = time.time,
        rate_per_s: float = 20.0,
        channel_burst: int = 5,
        channel_window_s: float = 5.0,
        concurrency: int = 8,
        batch_size: int = 50,
        backoff_base_s: float = 5.0,
        backoff_cap_s: float = 900.0,
        max_attempts_on_unknown_error: int = 8,
        idle_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        handlers: Mapping[DeliveryKind, DeliveryHandler] | None = None,
        on_user_unreachable: UserUnreachableHook | None = None,
        on_result: ResultHook | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._pacer = _Pacer(rate_per_s, channel_burst, channel_window_s, monotonic, sleep)
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._max_unknown = max_attempts_on_unknown_error
        self._idle_s = idle_s
        self._sleep = sleep
        self._jitter = jitter
        self._handlers = dict(handlers or {})
        self._on_user_unreachable = on_user_unreachable
        self._on_result = on_result or (lambda kind, ok: None)
        self._heartbeat = heartbeat or (lambda: None)
        self._wake = asyncio.Event()
        self._recovered = False
        self.stats = OutboxStats()

    def set_handler(self, kind: DeliveryKind, handler: DeliveryHandler) -> None:
        """Send deliveries of `kind` with `handler` (digests, topic DMs) instead of the default."""
        self._handlers[kind] = handler

    def set_user_unreachable_hook(self, hook: UserUnreachableHook) -> None:
        """Called when a member's DMs turn out to be closed (their deliveries are paused)."""
        self._on_user_unreachable = hook

    def wake(self) -> None:
        """Look for due deliveries now (new items were just queued)."""
        self._wake.set()

    async def recover(self) -> int:
        """Once per process, before the first send: deliveries a crash left 'sending' are
        flagged maybe-sent and queued again."""
        if self._recovered:
            return 0
        self._recovered = True  # set first: a second caller must not recover mid-send
        try:
            recovered = await self._store.deliveries.recover_in_flight()
        except BaseException:
            self._recovered = False  # try again: until then those targets stay blocked
            raise
        if recovered:
            log.info("outbox: %d delivery(ies) may have been sent before a crash", recovered)
        return recovered

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; sleep until the next delivery is due or `wake()`."""
        while not stop.is_set():
            self._wake.clear()  # a wake() from here on is seen by the wait below
            self._heartbeat()
            try:
                await self.recover()
                result = await self._pass()
                if result.processed:
                    continue
                timeout = self._idle_s
                if result.wait_s is not None:
                    timeout = min(timeout, result.wait_s)
                next_due = await self._store.deliveries.next_due_at()
                if next_due is not None:
                    timeout = min(timeout, max(0.0, next_due - self._clock()))
            except Exception:
                log.exception("outbox: pass failed; trying again shortly")
                timeout = 5.0
            await self._wait(stop, max(timeout, 0.01))

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def drain(self, until_empty: bool = True) -> int:
        """Send what is due now; with `until_empty`, keep going (waiting out per-target
        pacing) until nothing is due. Returns how many deliveries were handled."""
        await self.recover()
        total = 0
        while True:
            result = await self._pass()
            total += result.processed
            if not until_empty:
                return total
            if result.processed:
                continue
            if result.wait_s is None:
                return total
            await self._sleep(result.wait_s)

    async def _pass(self) -> _PassResult:
        due = await self._store.deliveries.due(self._clock(), self._batch_size)
        ready: list[DeliveryRow] = []
        wait_s: float | None = None
        for delivery in due:
            hold = self._pacer.target_wait((delivery.target_kind, delivery.target_id))
            if hold > 0:
                wait_s = hold if wait_s is None else min(wait_s, hold)
            else:
                ready.append(delivery)
        if not ready:
            return _PassResult(0, wait_s)
        slots = asyncio.Semaphore(self._concurrency)

        async def one(delivery: DeliveryRow) -> bool:
            async with slots:
                try:
                    return await self._deliver(delivery)
                except Exception:
                    # The bookkeeping itself failed (e.g. the database): do not leave the
                    # delivery 'sending' for the rest of this run, where it would block its
                    # target; it may have been sent, so it is looked for first next time.
                    log.exception("delivery %d: bookkeeping failed", delivery.id)
                    with contextlib.suppress(Exception):
                        await self._store.deliveries.retry_later(
                            delivery.id,
                            "internal error",
                            self._clock() + self._backoff_base_s,
                            maybe_sent=True,
                        )
                    return True

        handled = await asyncio.gather(*(one(d) for d in ready))
        return _PassResult(sum(handled), wait_s)

    async def _deliver(self, delivery: DeliveryRow) -> bool:
        """One attempt at one delivery. False if it was not ours to send any more."""
        deliveries = self._store.deliveries
        if not await deliveries.mark_sending(delivery.id, self._clock()):
            return False
        attempt = delivery.attempts + 1
        try:
            item: ItemView | None = None
            if delivery.item_id is not None:
                row = await self._store.items.get(delivery.item_id)
                if row is None:
                    await deliveries.cancel(delivery.id, "the item no longer exists")
                    return True
                item = item_view(row)
            if delivery.maybe_sent:
                await self._pacer.request_slot()
                existing = await self._sender.find_existing(delivery, item)
                if existing is not None:
                    await deliveries.mark_sent(delivery.id, existing, self._clock())
                    self.stats.found_existing += 1
                    log.info("delivery %d was already posted (message %d)", delivery.id, existing)
                    return True
            await self._pacer.request_slot()
            self._pacer.record_send((delivery.target_kind, delivery.target_id))
            sent = await self._send(delivery, item)
        except RetryableSendError as error:
            await self._retry(delivery, attempt, error.reason, error.retry_after, error.maybe_sent)
        except PermanentSendError as error:
            await self._permanent(delivery, error)
        except Exception as error:
            log.exception("delivery %d: unexpected error", delivery.id)
            reason = f"unexpected error: {type(error).__name__}: {error}"[:500]
            if attempt >= self._max_unknown:
                await deliveries.fail(delivery.id, reason)
                self.stats.failed += 1
                self._on_result(delivery.kind, False)
            else:
                await self._retry(delivery, attempt, reason, None, True)
        else:
            await deliveries.mark_sent(delivery.id, sent.message_id, self._clock())
            self.stats.sent += 1
            self._on_result(delivery.kind, True)
        return True

    async def _send(self, delivery: DeliveryRow, item: ItemView | None) -> SentMessage:
        handler = self._handlers.get(delivery.kind)
        if handler is not None:
            return await handler(self._sender, delivery)
        if item is not None:
            mention = delivery.mention_role_id if delivery.kind == "item" else None
            return await self._sender.send_item(delivery, item, mention)
        text = delivery.payload_data().get("text")
        if isinstance(text, str) and text:
            return await self._sender.send_text(delivery, text)
        raise PermanentSendError(
            f"nothing to send for a {delivery.kind} delivery", target_unreachable=False
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt `attempt + 1`: what Discord asked for (plus up to a second
        of jitter), else exponential from `backoff_base_s`, capped, with jitter (half to full
        length)."""
        if retry_after is not None:
            return max(0.0, retry_after) + self._jitter()
        exponential = min(self._backoff_cap_s, self._backoff_base_s * 2.0 ** max(0, attempt - 1))
        return exponential * (0.5 + 0.5 * self._jitter())

    async def _retry(
        self,
        delivery: DeliveryRow,
        attempt: int,
        reason: str,
        retry_after: float | None,
        maybe_sent: bool,
    ) -> None:
        delay = self.backoff(attempt, retry_after)
        log.info(
            "delivery %d: %s; retry in %.1fs (attempt %d)", delivery.id, reason, delay, attempt
        )
        await self._store.deliveries.retry_later(
            delivery.id, reason, self._clock() + delay, maybe_sent=maybe_sent
        )
        self.stats.retried += 1

    async def _permanent(self, delivery: DeliveryRow, error: PermanentSendError) -> None:
        deliveries = self._store.deliveries
        now = self._clock()
        if not error.target_unreachable or delivery.kind == "notice":
            log.warning("delivery %d failed: %s", delivery.id, error.reason)
            await deliveries.fail(delivery.id, error.reason)
            self.stats.failed += 1
            self._on_result(delivery.kind, False)
            return
        self.stats.paused_targets += 1
        if delivery.target_kind == "user":
            log.info("user %d cannot be reached: %s", delivery.target_id, error.reason)
            await deliveries.pause_target("user", delivery.target_id, error.reason, now)
            if self._on_user_unreachable is not None:
                await self._on_user_unreachable(delivery.target_id, error.reason)
            return
        channel_id = delivery.target_id
        active = [
            s for s in await self._store.subscriptions.for_channel(channel_id) if not s.paused
        ]
        notices = await self._pause_notices(delivery, active, error.reason)
        log.warning("channel %d cannot be reached, pausing: %s", channel_id, error.reason)
        await deliveries.pause_target("channel", channel_id, error.reason, now, notices=notices)

    async def _pause_notices(
        self, delivery: DeliveryRow, active: Sequence[SubscriptionRow], reason: str
    ) -> list[Notice]:
        """The DM to each person who added a now-paused subscription, and a notice in the
        guild's system channel (if the bot can post there and it is another channel)."""
        if not active:
            return []
        guild_id = delivery.guild_id if delivery.guild_id is not None else active[0].guild_id
        titles: list[str] = []
        for subscription in active[:PAUSED_NOTICE_TITLES]:
            feed = await self._store.feeds.get(subscription.feed_id)
            name = feed.display_title if feed is not None else f"feed {subscription.feed_id}"
            titles.append(f"**{fit_text(name, 100)}**")
        if len(active) > PAUSED_NOTICE_TITLES:
            titles.append(f"and {len(active) - PAUSED_NOTICE_TITLES} more")
        text = pause_notice_text(delivery.target_id, reason, titles)
        notices = [
            Notice("user", user_id, text, f"notice:paused:{delivery.id}:u:{user_id}", guild_id)
            for user_id in sorted({s.added_by for s in active if s.added_by is not None})
        ]
        try:
            system_channel = await self._sender.system_channel_for(guild_id)
        except Exception:
            log.exception("guild %d: cannot look up the system channel", guild_id)
            system_channel = None
        if system_channel is not None and system_channel != delivery.target_id:
            key = f"notice:paused:{delivery.id}:sys"
            notices.append(Notice("channel", system_channel, text, key, guild_id))
        return notices


def pause_notice_text(channel_id: int, reason: str, feed_titles: Sequence[str]) -> str:
    """The words of a pause notice (`feed_titles` already made safe)."""
    return (
        f"I could not post in <#{channel_id}>: {reason}. "
        f"Paused there: {', '.join(feed_titles)}. Once that is fixed, run `/feed add` in "
        "that channel again and the posts resume."
    )
