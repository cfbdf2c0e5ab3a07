"""bot_state: small key/value facts the bot keeps about itself."""

from __future__ import annotations

from bot.store.db import Table


class BotStateStore(Table):
    async def get(self, key: str) -> str | None:
        return await self._one(str, "SELECT value FROM bot_state WHERE key = ?", (key,))

    async def set(self, key: str, value: str) -> None:
        await self._db.write(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
