"""Where the outbox sends: Discord (channels and DMs) or the terminal (console mode).

A Sender turns one delivery into one message and reports failures as two typed errors the
outbox acts on: `RetryableSendError` (5xx, 429, timeouts: try again later, never drop) and
`PermanentSendError` (403/404: the target cannot be reached; 400: this message never will be).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import aiohttp
import discord

from bot.deliver.render import ItemView, render_item_message, render_item_text
from bot.deliver.sanitize import safe_url, truncate
from bot.store.deliveries import DeliveryRow

log = logging.getLogger(__name__)

T = TypeVar("T")

CONTENT_LIMIT = 2000

# Discord JSON error codes that mean "this target cannot be reached".
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
UNKNOWN_CHANNEL = 10003
UNKNOWN_USER = 10013
CANNOT_DM_USER = 50007
UNKNOWN_MESSAGE = 10008

REASONS: dict[int, str] = {
    MISSING_ACCESS: "Missing Access: I cannot see that channel",
    MISSING_PERMISSIONS: (
        "Missing Permissions: I need View Channel, Send Messages and Embed Links there"
    ),
    UNKNOWN_CHANNEL: "Unknown Channel: the channel no longer exists",
    UNKNOWN_USER: "Unknown User: the member's account no longer exists",
    CANNOT_DM_USER: "Cannot send messages to this user: their DMs are closed",
}


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What Discord confirmed. `message_id` is None where there is none (console)."""

    message_id: int | None
    channel_id: int | None = None


class PermanentSendError(Exception):
    """Sending this delivery will not work by trying again.

    `target_unreachable`: the channel or user cannot be reached at all (403/404), so the
    outbox pauses the target; otherwise only this one message is refused (e.g. a 400).
    """

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        status: int | None = None,
        target_unreachable: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status
        self.target_unreachable = target_unreachable


class RetryableSendError(Exception):
    """Try again later (5xx, 429, timeouts, connection errors).

    `retry_after`: the wait Discord asked for, if any. `maybe_sent`: the request may have
    reached Discord (a timeout or a 5xx after the body was sent), so look before resending.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, maybe_sent: bool = True
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Sender(Protocol):
    async def send_item(
        self, delivery: DeliveryRow, item: ItemView, mention_role_id: int | None
    ) -> SentMessage:
        """Post one item (an embed; the opted-in role is the only possible ping)."""
        ...

    async def send_text(self, delivery: DeliveryRow, text: str) -> SentMessage:
        """Post a plain text notice (no pings at all)."""
        ...

    async def find_existing(self, delivery: DeliveryRow, item: ItemView | None) -> int | None:
        """The id of a message the bot already posted for this delivery (an earlier attempt
        reached Discord), or None. Only called for deliveries flagged `maybe_sent`."""
        ...

    async def system_channel_for(self, guild_id: int) -> int | None:
        """The guild's system channel, if the bot can post there (for pause notices)."""
        ...


def permanent_error_for(error: discord.HTTPException) -> PermanentSendError:
    """A 4xx from Discord in words; 403 and 404 mean the target cannot be reached."""
    code = int(getattr(error, "code", 0) or 0)
    status = int(getattr(error, "status", 0) or 0)
    if code in REASONS:
        reason = REASONS[code]
    elif status == 403:
        reason = f"Forbidden (Discord code {code})"
    elif status == 404:
        reason = f"Not Found (Discord code {code})"
    else:
        reason = f"Discord refused the message: {status} {(error.text or '')[:200]}".strip()
    unreachable = status in (403, 404) and code != UNKNOWN_MESSAGE
    return PermanentSendError(reason, code=code, status=status, target_unreachable=unreachable)


async def call_discord(request: Callable[[], Awaitable[T]]) -> T:
    """Run one Discord request, turning its failures into the two send errors."""
    try:
        return await request()
    except discord.RateLimited as error:
        raise RetryableSendError(
            "rate limited", retry_after=error.retry_after, maybe_sent=False
        ) from error
    except discord.DiscordServerError as error:
        raise RetryableSendError(f"Discord server error {error.status}") from error
    except (discord.Forbidden, discord.NotFound) as error:
        raise permanent_error_for(error) from error
    except discord.HTTPException as error:
        if error.status == 429:
            raise RetryableSendError("rate limited (429)", maybe_sent=False) from error
        if error.status >= 500 or error.status == 0:
            raise RetryableSendError(f"Discord error {error.status}") from error
        raise permanent_error_for(error) from error
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise RetryableSendError(f"connection problem: {type(error).__name__}") from error


def fit_content(text: str) -> str:
    return truncate(text, CONTENT_LIMIT)


#: How long after sending a nonce this process relies on Discord's de-duplication ("the past
#: few minutes" in Discord's docs) to drop a resend it cannot check in the channel's history.
NONCE_TRUST_S = 60.0
#: How long a maybe-sent delivery waits for the gateway (the channel's permissions) to load.
READY_TIMEOUT_S = 30.0

HISTORY_UNREADABLE = (
    "not sent again: an earlier attempt may already be in the channel and I cannot check "
    "without Read Message History there (grant it to my role, as the README's invite does)"
)


class HistoryCheck:
    """Whether a send that may have gone through can be looked for, and what to do if not.

    Exactly once rests on reading the channel after a crash or a lost answer: the nonce only
    makes Discord drop a repeat for a few minutes, and Discord keeps no nonce in the history.
    Without Read Message History Discord answers a history request with an empty list (not an
    error), which would read as "not posted" and resend. So the permission is checked first:

    - readable (or a DM): look in the history;
    - unreadable, and this process sent the same nonce less than `NONCE_TRUST_S` ago: send
      again; Discord returns the message it already has instead of posting twice;
    - unreadable otherwise (a restart, an outage, a long backoff): the delivery fails with
      `HISTORY_UNREADABLE` (logged, kept in the delivery's last_error) rather than being sent
      again. A duplicate in a community channel is visible to everyone and cannot be taken
      back; the missed post is named in the log, `digestbot doctor` names the missing
      permission, and the README's invite grants it, so with the README's permissions this
      never happens.
    """

    def __init__(
        self,
        client: discord.Client,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._monotonic = monotonic
        self._ready_timeout_s = ready_timeout_s
        self._sent_at: dict[str, float] = {}  # nonce → when this process last sent it

    def note_send(self, nonce: str) -> None:
        """Called just before a message with `nonce` goes out."""
        now = self._monotonic()
        stale = [n for n, at in self._sent_at.items() if now - at > NONCE_TRUST_S]
        for old in stale:
            del self._sent_at[old]
        self._sent_at[nonce] = now

    async def should_look(self, delivery: DeliveryRow, nonce: str) -> bool:
        """True: look in the history. False: a resend with `nonce` is safe without looking.
        Raises PermanentSendError (this delivery only) when neither is possible."""
        if delivery.target_kind != "channel":
            return True  # a DM's history is always readable
        readable = await self._history_readable(delivery.target_id)
        if readable is not False:
            return True  # readable, or an unknown channel: the request itself will say
        sent_at = self._sent_at.get(nonce)
        if sent_at is not None and self._monotonic() - sent_at < NONCE_TRUST_S:
            log.info(
                "delivery %d: cannot read channel %d's history; resending within the nonce "
                "window (Discord drops a repeat)",
                delivery.id,
                delivery.target_id,
            )
            return False
        log.warning(
            "delivery %d to channel %d: %s", delivery.id, delivery.target_id, HISTORY_UNREADABLE
        )
        raise PermanentSendError(
            HISTORY_UNREADABLE, code=MISSING_ACCESS, status=403, target_unreachable=False
        )

    async def _history_readable(self, channel_id: int) -> bool | None:
        """Read Message History in the cached channel (None: the channel is not known)."""
        channel = self._client.get_channel(channel_id)
        if channel is None and not self._client.is_ready():
            try:
                await asyncio.wait_for(self._client.wait_until_ready(), self._ready_timeout_s)
            except TimeoutError:
                raise RetryableSendError(
                    "not connected to Discord yet: cannot tell whether I may read the "
                    "channel's history"
                ) from None
            channel = self._client.get_channel(channel_id)
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return channel.permissions_for(channel.guild.me).read_message_history
        return None


class DiscordSender:
    """Sends through a connected discord.py client, with a nonce per delivery so a resend of
    the same delivery within Discord's de-duplication window yields the same message."""

    def __init__(self, client: discord.Client, *, history_limit: int = 100) -> None:
        self._client = client
        self._history_limit = history_limit
        self._dm_channels: dict[int, int] = {}
        self.history_check = HistoryCheck(client)

    @property
    def client(self) -> discord.Client:
        return self._client

    async def _destination(self, delivery: DeliveryRow) -> discord.PartialMessageable:
        if delivery.target_kind == "channel":
            return self._client.get_partial_messageable(
                delivery.target_id, guild_id=delivery.guild_id
            )
        dm_id = self._dm_channels.get(delivery.target_id)
        if dm_id is None:
            user_id = delivery.target_id
            user = self._client.get_user(user_id)
            if user is None:
                user = await call_discord(lambda: self._client.fetch_user(user_id))
            channel = await call_discord(user.create_dm)
            dm_id = channel.id
            self._dm_channels[delivery.target_id] = dm_id
        return self._client.get_partial_messageable(dm_id, type=discord.ChannelType.private)

    async def send_item(
        self, delivery: DeliveryRow, item: ItemView, mention_role_id: int | None
    ) -> SentMessage:
        destination = await self._destination(delivery)
        message = render_item_message(item, mention_role_id=mention_role_id)
        content = message.content
        extra = delivery.payload_data().get("content")
        if isinstance(extra, str) and extra:
            # A DM's context line ("matched your topic …"), written by us, not the feed.
            content = fit_content(extra if content is None else f"{content} {extra}")
        self.history_check.note_send(delivery.nonce)
        sent = await call_discord(
            lambda: destination.send(
                content=content,
                embed=message.embed,
                allowed_mentions=message.allowed_mentions,
                nonce=delivery.nonce,
            )
        )
        return SentMessage(sent.id, sent.channel.id)

    async def send_text(self, delivery: DeliveryRow, text: str) -> SentMessage:
        destination = await self._destination(delivery)
        self.history_check.note_send(delivery.nonce)
        sent = await call_discord(
            lambda: destination.send(
                content=fit_content(text),
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=delivery.nonce,
            )
        )
        return SentMessage(sent.id, sent.channel.id)

    async def find_existing(self, delivery: DeliveryRow, item: ItemView | None) -> int | None:
        """Look through the target's newest messages (back to when the delivery was queued)
        for one of ours carrying this delivery's nonce, the item's link or title, or the
        notice's text. The outbox sends a target's deliveries one at a time in order, so an
        unconfirmed one is among the newest messages the bot posted there. Without Read
        Message History there, see `HistoryCheck` (resend within the nonce window, else fail
        this delivery rather than risk a duplicate); a 403/404 on the history request means
        the target itself cannot be reached and is raised as such."""
        me = self._client.user
        if me is None:
            return None
        text = delivery.payload_data().get("text")
        expected_text = fit_content(text) if isinstance(text, str) else None
        if item is None and expected_text is None:
            # Nothing to recognise it by (a digest: its handler looks per message, by its
            # own nonces); the history never carries nonces.
            return None
        if not await self.history_check.should_look(delivery, delivery.nonce):
            return None
        destination = await self._destination(delivery)
        expected_url = safe_url(item.url) if item else None
        expected_title: str | None = None
        if item is not None:
            expected_title = render_item_message(item, mention_role_id=None).embed.title
        since = datetime.fromtimestamp(delivery.created_at - 60, tz=UTC)

        async def scan() -> int | None:
            async for message in destination.history(limit=self._history_limit):
                if message.created_at < since:
                    return None
                if message.author.id != me.id:
                    continue
                if message.nonce is not None and str(message.nonce) == delivery.nonce:
                    return message.id
                for embed in message.embeds:
                    if expected_url and embed.url == expected_url:
                        return message.id
                    if expected_url is None and expected_title and embed.title == expected_title:
                        return message.id
                if expected_text is not None and message.content == expected_text:
                    return message.id
            return None

        return await call_discord(scan)

    async def system_channel_for(self, guild_id: int) -> int | None:
        guild = self._client.get_guild(guild_id)
        if guild is None or guild.system_channel is None:
            return None
        channel = guild.system_channel
        permissions = channel.permissions_for(guild.me)
        if permissions.view_channel and permissions.send_messages:
            return channel.id
        return None


class ConsoleSender:
    """Console mode: every delivery is printed (the terminal is the only channel)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def send_item(
        self, delivery: DeliveryRow, item: ItemView, mention_role_id: int | None
    ) -> SentMessage:
        extra = delivery.payload_data().get("content")
        text = render_item_text(item)
        if isinstance(extra, str) and extra:
            text = f"{extra}\n{text}"
        self._write(text)
        return SentMessage(None)

    async def send_text(self, delivery: DeliveryRow, text: str) -> SentMessage:
        self._write(text)
        return SentMessage(None)

    async def find_existing(self, delivery: DeliveryRow, item: ItemView | None) -> int | None:
        return None

    async def system_channel_for(self, guild_id: int) -> int | None:
        return None


__all__ = [
    "ConsoleSender",
    "DiscordSender",
    "HistoryCheck",
    "PermanentSendError",
    "RetryableSendError",
    "Sender",
    "SentMessage",
]
