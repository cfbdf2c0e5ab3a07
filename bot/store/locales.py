"""Languages we write in (`en`, `ja`): a channel's, when an admin chose one, and a member's,
as their last `/follow` gave it. No row: decide from the guild."""

from __future__ import annotations

from bot.store.db import Table


class LocaleStore(Table):
    async def channel(self, channel_id: int) -> str | None:
        """The language an admin chose for the channel (None: automatic)."""
        return await self._one(
            str, "SELECT locale FROM channel_locales WHERE channel_id = ?", (channel_id,)
        )

    async def set_channel(
        self, guild_id: int, channel_id: int, locale: str | None, now: float
    ) -> None:
        """Write the channel's posts in `locale` (None: back to the guild's language)."""
        if locale is None:
            await self._db.write("DELETE FROM channel_locales WHERE channel_id = ?", (channel_id,))
            return
        await self._db.write(
            "INSERT INTO channel_locales (channel_id, guild_id, locale, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET "
            "guild_id = excluded.guild_id, locale = excluded.locale, "
            "updated_at = excluded.updated_at",
            (channel_id, guild_id, locale, now),
        )

    async def member(self, user_id: int) -> str | None:
        """The language of the member's last `/follow` (None: not known)."""
        return await self._one(
            str, "SELECT locale FROM member_locales WHERE user_id = ?", (user_id,)
        )

    async def set_member(self, user_id: int, locale: str, now: float) -> None:
        await self._db.write(
            "INSERT INTO member_locales (user_id, locale, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET "
            "locale = excluded.locale, updated_at = excluded.updated_at",
            (user_id, locale, now),
        )
