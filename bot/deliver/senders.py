"""Where the outbox sends: Discord (channels and DMs) or the terminal (console mode).

A Sender turns one delivery into one message and reports failures as two typed errors the
outbox acts on: `RetryableSendError` (5xx, 429, timeouts: try again later, never drop) and
`PermanentSendError` (403/404: the target cannot be reached; 400: this message never will be).
"""

from __future__ import annotations

import logging
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


class DiscordSender:
    """Sends through a connected discord.py client, with a nonce per delivery so a resend of
    the same delivery within Discord's de-duplication window yields the same message."""

    def __init__(self, client: discord.Client, *, history_limit: int = 100) -> None:
        self._client = client
        self._history_limit = history_limit
        self._dm_channels: dict[int, int] = {}

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
        unconfirmed one is among the newest messages the bot posted there."""
        me = self._client.user
        if me is None:
            return None
        destination = await self._destination(delivery)
        expected_url = safe_url(item.url) if item else None
        expected_title: str | None = None
        if item is not None:
            expected_title = render_item_message(item, mention_role_id=None).embed.title
        text = delivery.payload_data().get("text")
        expected_text = fit_content(text) if isinstance(text, str) else None
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

        try:
            return await call_discord(scan)
        except PermanentSendError as error:
            if error.code == MISSING_PERMISSIONS or error.code == MISSING_ACCESS:
                # Cannot read the history (no Read Message History): rely on the nonce.
                log.warning("delivery %d: cannot read history to check: %s", delivery.id, error)
                return None
            raise

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
    "PermanentSendError",
    "RetryableSendError",
    "Sender",
    "SentMessage",
]
