"""Console mode's sender: every delivery is printed (the terminal is the only channel)."""

from __future__ import annotations

from collections.abc import Callable

from bot.delivery.senders import SentMessage
from bot.delivery.terminal import to_text
from bot.model import DeliveryRow, Message


class ConsoleSender:
    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> SentMessage:
        self._write(to_text(message))
        return SentMessage(None)

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        return None

    async def system_channel_for(self, guild_id: int) -> int | None:
        return None

    async def guild_name(self, guild_id: int) -> str | None:
        return None
