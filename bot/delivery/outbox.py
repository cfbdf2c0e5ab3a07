"""The outbox worker: sends queued deliveries exactly once, in order, within Discord's limits.

Features render what a delivery says (the `Composer`); the outbox sends those Messages through
its `Sender` and keeps the books.

Exactly once across crashes: a delivery is marked 'sending' (committed) before the request
goes out and 'sent' with Discord's message id after; a delivery of several messages saves its
progress after each. One a crash left 'sending' is flagged `maybe_sent`, and the sender first
looks whether its first unconfirmed message is already there (the nonce also makes Discord
itself drop a quick resend).

Order: a target (channel or DM) gets its deliveries in queue order, one at a time; one waiting
for a retry holds back the target's later ones. Pacing: the `RequestBudget`; a target whose
bucket is full is skipped, so the others use the budget meanwhile. Failures: 5xx, 429 and
timeouts are retried with exponential backoff and jitter, forever; 403/404 pause the target
(and its subscriptions) and tell the people concerned once; the rest are retried a few times,
then failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.delivery.budget import RequestBudget, Target
from bot.delivery.senders import PermanentSendError, RetryableSendError, Sender
from bot.features.posts.notices import PAUSED_NOTICE_TITLES, paused_payload
from bot.model import DeliveryKind, DeliveryRow, Message, SubscriptionRow
from bot.store import Store
from bot.store.deliveries import notice_to
from bot.store.leases import new_process_id
from bot.store.routing import NewDelivery

log = logging.getLogger(__name__)


async def merged_into(store: Store, delivery: DeliveryRow) -> DeliveryRow | None:
    """For an 'edit' delivery: the earlier delivery whose sent post it edits; None when there
    is none to edit (it was never sent, or the sender keeps no message ids), and the item is
    posted on its own instead."""
    if delivery.kind != "edit" or delivery.merged_into is None:
        return None
    original = await store.deliveries.get(delivery.merged_into)
    if original is None or original.state != "sent" or original.message_id is None:
        return None
    if original.subscription_id is not None and (
        not (await store.subscriptions.post_format(original.subscription_id)).is_default
        or await store.webhooks.identity(original.subscription_id) is not None
    ):
        return None  # the "Also in" card would replace its own format, or a webhook's post
    return original


class Cancelled(Exception):
    """There is nothing to send for this delivery any more (e.g. its item was pruned)."""


# The messages of a delivery, in sending order ([]: nothing to send, e.g. the member
# unfollowed every matched topic). Raises Cancelled when it can never be sent.
Composer = Callable[[DeliveryRow], Awaitable[Sequence[Message]]]


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    concurrency: int = 16
    batch_size: int = 50
    backoff_base_s: float = 5.0
    backoff_cap_s: float = 900.0
    max_attempts_on_unknown_error: int = 8
    idle_s: float = 30.0  # the longest sleep when nothing is due
    # How long a claim on a delivery being sent lasts unless renewed (renewed every third of
    # it while the process lives): how long a dead process's send holds its target back
    # before another process sharing the database takes it over.
    lease_s: float = 30.0


@dataclass(frozen=True, slots=True)
class OutboxClock:
    """Time as the outbox sees it (tests drive it)."""

    wall: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random


async def _nothing(*_args: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class OutboxHooks:
    """What the rest of the bot learns from the outbox."""

    # A member's DMs are closed: (user id, reason); their deliveries are paused.
    on_user_unreachable: Callable[[int, str], Awaitable[None]] = _nothing
    # (delivery kind, sent?) for metrics.
    on_result: Callable[[DeliveryKind, bool], None] = lambda kind, sent: None
    heartbeat: Callable[[], None] = lambda: None


class Outbox:
    """Sends the deliveries queued in the store through a Sender."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        compose: Composer,
        *,
        budget: RequestBudget,
        settings: OutboxSettings = OutboxSettings(),
        clock: OutboxClock = OutboxClock(),
        hooks: OutboxHooks = OutboxHooks(),
    ) -> None:
        self._store = store
        self._sender = sender
        self._compose = compose
        self._settings = settings
        self._clock = clock.wall
        self._sleep = clock.sleep
        self._jitter = clock.jitter
        self._budget = budget
        self._hooks = hooks
        self._wake = asyncio.Event()
        self._recovered = False
        # This process's name on its claims (several processes may share the database).
        self.owner = new_process_id()
        self._leases_checked_at = -math.inf

    def wake(self) -> None:
        """Look for due deliveries now (new items were just queued)."""
        self._wake.set()

    async def recover(self) -> None:
        """Once per process, before the first send: deliveries a crash left 'sending' are
        flagged maybe-sent and queued again."""
        if self._recovered:
            return
        self._recovered = True  # set first: a second caller must not recover mid-send
        try:
            recovered = await self._store.deliveries.recover_in_flight(self._clock())
        except BaseException:
            self._recovered = False  # try again: until then those targets stay blocked
            raise
        if recovered:
            log.info("outbox: %d delivery(ies) may have been sent before a crash", recovered)
        self._leases_checked_at = self._clock()

    async def _keep_leases(self) -> None:
        """Every third of a lease: renew this process's claims, and take over the deliveries
        of a process whose claims expired (it died mid-send; they are looked for first)."""
        now = self._clock()
        if now - self._leases_checked_at < self._settings.lease_s / 3:
            return
        self._leases_checked_at = now
        deliveries = self._store.deliveries
        await deliveries.renew_leases(self.owner, now + self._settings.lease_s)
        taken = await deliveries.take_over_expired(now)
        if taken:
            log.info("outbox: took over %d delivery(ies) whose sender's lease expired", taken)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; sleep until the next delivery is due or `wake()`."""
        while not stop.is_set():
            self._wake.clear()  # a wake() from here on is seen by the wait below
            self._hooks.heartbeat()
            try:
                await self.recover()
                await self._keep_leases()
                processed, held_s = await self._pass(stop)
                if processed:
                    continue
                # Awake at least every third of a lease: to renew ours, take over the dead's.
                idle_s = min(self._settings.idle_s, self._settings.lease_s / 3)
                timeout = min(idle_s, held_s or idle_s)
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

    async def drain(self) -> int:
        """Send what is due now, and what falls due while waiting out per-target pacing,
        until nothing is due. Returns how many deliveries were handled."""
        await self.recover()
        total = 0
        while True:
            processed, held_s = await self._pass()
            total += processed
            if not processed:
                if held_s is None:
                    return total
                await self._sleep(held_s)

    async def _pass(self, stop: asyncio.Event | None = None) -> tuple[int, float | None]:
        """Send due deliveries until none is ready (or `stop` is set): up to `concurrency` at
        once, a new one started as soon as one finishes, so the budget is spent without a
        pause between batches. Returns how many were handled, and (when none was ready) how
        long pacing holds back the next one that is due (None: nothing is due)."""
        in_flight: dict[asyncio.Task[bool], Target] = {}
        queued: list[DeliveryRow] = []  # due heads of their targets, as last read
        handled = 0
        try:
            while True:
                ready: list[DeliveryRow] = []
                wait_s: float | None = None
                if stop is None or not stop.is_set():
                    busy = set(in_flight.values())
                    ready, wait_s = await self._ready(queued, busy)
                    if not ready and len(busy) < self._settings.concurrency:
                        # Nothing startable among what was read: read again (a target that
                        # just finished may have a next delivery; new ones may be queued).
                        await self._keep_leases()
                        queued = await self._store.deliveries.due(
                            self._clock(), self._settings.batch_size
                        )
                        ready, wait_s = await self._ready(queued, busy)
                for delivery in ready:
                    task = asyncio.create_task(self._one(delivery))
                    in_flight[task] = (delivery.target_kind, delivery.target_id)
                if not in_flight:
                    return handled, wait_s
                # A send may take long (discord.py sleeping through a 429): wake up at least
                # every third of a lease to renew this process's claims.
                keep_s = self._settings.lease_s / 3
                done, _ = await asyncio.wait(
                    in_flight,
                    timeout=keep_s if wait_s is None else min(wait_s, keep_s),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in done:
                    del in_flight[task]
                    handled += task.result()
                self._hooks.heartbeat()
                await self._keep_leases()
        finally:
            for task in in_flight:  # left only when this pass itself was cancelled
                task.cancel()

    async def _ready(
        self, queued: list[DeliveryRow], busy: set[Target]
    ) -> tuple[list[DeliveryRow], float | None]:
        """Take from `queued` the deliveries that may start now (their target has no send in
        flight and room in its bucket), up to the free workers, and drop those whose target
        is busy; also the shortest hold of those held back by their bucket (None: none is)."""
        ready: list[DeliveryRow] = []
        wait_s: float | None = None
        free = self._settings.concurrency - len(busy)
        for delivery in list(queued):
            if len(ready) >= free:
                break
            target = (delivery.target_kind, delivery.target_id)
            if target in busy:
                # Read before its target's send in flight was claimed: that same delivery, or
                # (once it is done) stale; the target's next one is read again later.
                queued.remove(delivery)
                continue
            hold = await self._budget.hold(target)
            if hold > 0:
                wait_s = hold if wait_s is None else min(wait_s, hold)
                continue
            queued.remove(delivery)
            ready.append(delivery)
        return ready, wait_s

    async def _one(self, delivery: DeliveryRow) -> bool:
        try:
            return await self._deliver(delivery)
        except Exception:
            # The bookkeeping itself failed (e.g. the database): do not leave the delivery
            # 'sending' for the rest of this run, where it would block its target; it may have
            # been sent, so it is looked for first next time.
            log.exception("delivery %d: bookkeeping failed", delivery.id)
            with contextlib.suppress(Exception):
                await self._store.deliveries.retry_later(
                    delivery.id,
                    "internal error",
                    self._clock() + self._settings.backoff_base_s,
                    maybe_sent=True,
                    owner=self.owner,
                )
            return True

    async def _deliver(self, delivery: DeliveryRow) -> bool:
        """One attempt at one delivery. False if it was not ours to send any more."""
        deliveries = self._store.deliveries
        claimed = await deliveries.mark_sending(
            delivery.id, self._clock(), owner=self.owner, lease_s=self._settings.lease_s
        )
        if not claimed:
            return False
        attempt = delivery.attempts + 1
        try:
            messages = await self._compose(delivery)
            original = await merged_into(self._store, delivery)
            first_id: int | None
            if original is not None and original.message_id is not None and messages:
                first_id = await self._edit_or_post(delivery, original.message_id, messages[0])
            else:
                first_id = await self._send_all(delivery, messages)
        except Cancelled as cancelled:
            await deliveries.cancel(delivery.id, str(cancelled))
        except RetryableSendError as error:
            await self._retry(delivery, attempt, error.reason, error.retry_after, error.maybe_sent)
        except PermanentSendError as error:
            await self._permanent(delivery, error)
        except Exception as error:
            log.exception("delivery %d: unexpected error", delivery.id)
            reason = f"unexpected error: {type(error).__name__}: {error}"[:500]
            if attempt >= self._settings.max_attempts_on_unknown_error:
                await deliveries.fail(delivery.id, reason)
                self._hooks.on_result(delivery.kind, False)
            else:
                await self._retry(delivery, attempt, reason, None, True)
        else:
            await deliveries.mark_sent(delivery.id, first_id, self._clock())
            self._hooks.on_result(delivery.kind, True)
        return True

    async def _send_all(self, delivery: DeliveryRow, messages: Sequence[Message]) -> int | None:
        """Send the messages an earlier attempt did not, in order, saving progress after each
        when there are several; the first message's id is the delivery's."""
        target = (delivery.target_kind, delivery.target_id)
        several = len(messages) > 1
        done = delivery.progress if several else []
        resume_at = len(done)
        for index in range(resume_at, len(messages)):
            # One message: the delivery's own nonce; several: one nonce per message.
            nonce = f"{delivery.nonce}.{index}" if several else delivery.nonce
            message = messages[index]
            existing = None
            if index == resume_at and delivery.maybe_sent:
                # The earlier attempt's request (a dead process's, taken over) has reached
                # Discord by now or never will, maybe without the answer that would have
                # counted it from its arrival: count the target's newest send from now.
                await self._budget.sent(target)
                await self._budget.take(None)
                existing = await self._sender.find_existing(delivery, message, nonce=nonce)
                if existing is not None:
                    log.info("delivery %d was already posted (message %d)", delivery.id, existing)
            if existing is None:
                await self._budget.take(target)
                try:
                    existing = await self._sender.send(delivery, message, nonce=nonce)
                finally:
                    await self._budget.sent(target)
            done.append(existing)
            if several:
                await self._store.deliveries.save_progress(delivery.id, done)
        return done[0] if done else None

    async def _edit_or_post(
        self, delivery: DeliveryRow, message_id: int, message: Message
    ) -> int | None:
        """Edit the earlier post of the item's story. The edit writes the post as it should
        read, so a repeat after a crash or a lost answer changes nothing: no look first. When
        Discord refuses it for good (the earlier post was deleted, or is not ours to edit),
        the item's own post: an item is never lost to a merge."""
        target = (delivery.target_kind, delivery.target_id)
        await self._budget.take(target)
        try:
            await self._sender.edit(delivery, message_id, message)
            return message_id
        except PermanentSendError as error:
            if error.target_unreachable:
                raise
            log.warning(
                "delivery %d: the earlier post of its story cannot be edited (%s); posting the "
                "item itself",
                delivery.id,
                error.reason,
            )
        finally:
            await self._budget.sent(target)
        return await self._send_all(
            delivery, await self._compose(replace(delivery, merged_into=None))
        )

    async def _retry(
        self,
        delivery: DeliveryRow,
        attempt: int,
        reason: str,
        retry_after: float | None,
        maybe_sent: bool,
    ) -> None:
        """Retry after what Discord asked for (plus up to a second of jitter), else after an
        exponential backoff from `backoff_base_s`, capped, with jitter (half to full length)."""
        if retry_after is not None:
            delay = max(0.0, retry_after) + self._jitter()
        else:
            exponential = self._settings.backoff_base_s * 2.0 ** max(0, attempt - 1)
            delay = min(self._settings.backoff_cap_s, exponential) * (0.5 + 0.5 * self._jitter())
        log.info(
            "delivery %d: %s; retry in %.1fs (attempt %d)", delivery.id, reason, delay, attempt
        )
        await self._store.deliveries.retry_later(
            delivery.id, reason, self._clock() + delay, maybe_sent=maybe_sent, owner=self.owner
        )

    async def _permanent(self, delivery: DeliveryRow, error: PermanentSendError) -> None:
        deliveries = self._store.deliveries
        now = self._clock()
        if not error.target_unreachable or delivery.kind == "notice":
            log.warning("delivery %d failed: %s", delivery.id, error.reason)
            await deliveries.fail(delivery.id, error.reason)
            self._hooks.on_result(delivery.kind, False)
            return
        if delivery.target_kind == "user":
            log.info("user %d cannot be reached: %s", delivery.target_id, error.reason)
            await deliveries.pause_target("user", delivery.target_id, error.reason, now)
            await self._hooks.on_user_unreachable(delivery.target_id, error.reason)
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
    ) -> list[NewDelivery]:
        """The DM to each person who added a now-paused subscription, and a notice in the
        guild's system channel (if the bot can post there and it is another channel)."""
        if not active:
            return []
        guild_id = delivery.guild_id if delivery.guild_id is not None else active[0].guild_id
        titles: list[str] = []
        for subscription in active[:PAUSED_NOTICE_TITLES]:
            feed = await self._store.feeds.get(subscription.feed_id)
            titles.append(feed.display_title if feed is not None else f"#{subscription.feed_id}")
        more = len(active) - len(titles)
        notice = paused_payload(delivery.target_id, reason, titles, more=more)
        notices = [
            notice_to("user", user_id, notice, f"notice:paused:{delivery.id}:u:{user_id}", guild_id)
            for user_id in sorted({s.added_by for s in active if s.added_by is not None})
        ]
        try:
            system_channel = await self._sender.system_channel_for(guild_id)
        except Exception:
            log.exception("guild %d: cannot look up the system channel", guild_id)
            system_channel = None
        if system_channel is not None and system_channel != delivery.target_id:
            key = f"notice:paused:{delivery.id}:sys"
            notices.append(notice_to("channel", system_channel, notice, key, guild_id))
        return notices
