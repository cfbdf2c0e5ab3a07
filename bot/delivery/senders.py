"""Where the outbox sends: one protocol, with a Discord and a console implementation, and the
two typed failures a Sender reports (the outbox tries one again later, never dropping it, and
gives up on the other)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bot.delivery.terminal import to_text
from bot.model import DeliveryRow, Message


class PermanentSendError(Exception):
    """Sending this delivery will not work by trying again. `target_unreachable`: the channel
    or user cannot be reached at all (403/404), so the outbox pauses the target; otherwise only
    this one message is refused (e.g. a 400)."""

    def __init__(self, reason: str, *, target_unreachable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.target_unreachable = target_unreachable


class RetryableSendError(Exception):
    """Try again later (5xx, 429, timeouts, connection errors). `retry_after`: the wait
    Discord asked for, if any. `maybe_sent`: the request may have reached Discord (a timeout or
    a 5xx after the body was sent), so look before resending."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, maybe_sent: bool = True
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Sender(Protocol):
    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int | None:
        """Post `message` to the delivery's target (a channel, or a member's DM); the id
        Discord gave it (None where there is none: console)."""
        ...

    async def edit(self, delivery: DeliveryRow, message_id: int, message: Message) -> None:
        """Make the delivery target's message `message_id` (one of ours) read `message`."""
        ...

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        """The id of `message` if an earlier attempt already posted it, else None. Only
        called for deliveries flagged `maybe_sent`."""
        ...

    async def system_channel_for(self, guild_id: int) -> int | None:
        """The guild's system channel, if the bot can post there (for pause notices)."""
        ...

    async def guild_name(self, guild_id: int) -> str | None:
        """The guild's name as the bot sees it, or None (a topic DM names its server)."""
        ...

    async def guild_locale(self, guild_id: int) -> str | None:
        """The guild's preferred language as Discord tells it (e.g. `ja`), or None."""
        ...


class ConsoleSender:
    """Console mode's sender: every delivery is printed (the terminal is the only channel)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int | None:
        self._write(to_text(message))
        return None

    async def edit(self, delivery: DeliveryRow, message_id: int, message: Message) -> None:
        self._write(to_text(message))

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        return None

    async def system_channel_for(self, guild_id: int) -> int | None:
        return None

    async def guild_name(self, guild_id: int) -> str | None:
        return None

    async def guild_locale(self, guild_id: int) -> str | None:
        return None
