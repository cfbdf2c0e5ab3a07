"""The language each piece of our output is written in.

A channel's posts, digests and notices: the language an admin chose for the channel
(`language channel`), else the guild's preferred locale (Discord tells it with the guild),
else the process's (`DIGESTBOT_LOCALE`). A topic DM: the language of the member's last
`/follow`, else the guild's, else the process's. Only our chrome is translated: feed text is
never a message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bot.i18n import (
    COMMAND_NAME_CONTEXT,
    DEFAULT_LOCALE,
    _,
    available_locales,
    current_locale,
    pgettext,
    pick_locale,
    supported_locale,
)
from bot.model import Message
from bot.safe import shown
from bot.store import Store

GuildLocale = Callable[[int], Awaitable[str | None]]
AUTO = "auto"


def language_choices() -> tuple[str, ...]:
    """What an admin may choose for a channel: `auto` (the guild's), or one of our languages."""
    return (AUTO, *sorted(available_locales()))


def slash(command: str) -> str:
    """`/feed add` as the reader's Discord shows it: each name in the current language."""
    return "`/" + " ".join(pgettext(COMMAND_NAME_CONTEXT, w) for w in command.split()) + "`"


async def _no_guild_locale(guild_id: int) -> str | None:
    return None


class Languages:
    def __init__(
        self,
        store: Store,
        *,
        guild_locale: GuildLocale = _no_guild_locale,
        default: str = DEFAULT_LOCALE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`guild_locale`: the guild's preferred locale as Discord gave it (e.g. `ja`,
        `en-US`); `default`: the language when nothing else says (DIGESTBOT_LOCALE)."""
        self._store = store
        self.guild_locale = guild_locale
        self.default = supported_locale(default) or DEFAULT_LOCALE
        self._clock = clock

    async def _guild(self, guild_id: int | None) -> str | None:
        return None if guild_id is None else await self.guild_locale(guild_id)

    async def for_channel(self, channel_id: int, guild_id: int | None) -> str:
        chosen = await self._store.locales.channel(channel_id)
        return pick_locale(chosen, await self._guild(guild_id), self.default)

    async def for_member(self, user_id: int, guild_id: int | None) -> str:
        known = await self._store.locales.member(user_id)
        return pick_locale(known, await self._guild(guild_id), self.default)

    async def channel_setting(self, channel_id: int) -> str:
        """`auto` or the language an admin chose for the channel."""
        return await self._store.locales.channel(channel_id) or AUTO

    async def set_channel(self, guild_id: int, channel_id: int, choice: str) -> str:
        """Write the channel in `choice` (`auto`: the guild's language); returns the setting.
        ValueError: not one of `language_choices()`."""
        wanted = choice.strip().lower()
        if wanted not in language_choices():
            raise ValueError(wanted)
        locale = None if wanted == AUTO else wanted
        await self._store.locales.set_channel(guild_id, channel_id, locale, self._clock())
        return wanted


def language_name(setting: str) -> str:
    """A setting as the reader says it: "Japanese" / "日本語", or the automatic choice."""
    if setting == AUTO:
        return _("the server's language (automatic)")
    from babel import Locale  # imported on first use, like the catalogues

    name = Locale.parse(setting).get_display_name(current_locale())
    return name or setting


def render_channel_language(setting: str, *, channel: str, changed: bool) -> Message:
    """The answer to `language channel` (`changed`: it was just set)."""
    if changed:
        text = _(
            "{channel}'s posts, digests and notices are now written in {language}.",
            channel=channel,
            language=language_name(setting),
        )
    else:
        text = _(
            "{channel}'s posts, digests and notices are written in {language}. Choose with "
            "{choices}.",
            channel=channel,
            language=language_name(setting),
            choices=" | ".join(language_choices()),
        )
    return Message(content=text)


def render_language_refused(choice: str) -> Message:
    return Message(
        content=_(
            "{choice} is not a language I write. Choose one of {choices}.",
            choice=f"“{shown(choice)}”",
            choices=" | ".join(language_choices()),
        )
    )
