"""Discord's side of our languages: the language of a member's answers, and slash command
names and descriptions in every language we have a catalogue for.

discord.py asks the tree's translator for each string of the commands it registers; what we
return becomes Discord's `name_localizations` / `description_localizations`. A string we do
not translate gets none, so Discord shows the English one (the decorators' own).
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.i18n import COMMAND_NAME_CONTEXT, DEFAULT_LOCALE, pick_locale, supported_locale, translator

UNDESCRIBED = "…"
NAMES = frozenset(
    {
        app_commands.TranslationContextLocation.command_name,
        app_commands.TranslationContextLocation.group_name,
        app_commands.TranslationContextLocation.parameter_name,
    }
)


def member_locale(interaction: discord.Interaction[Any]) -> str:
    """The language of a member's answers: theirs, else their server's, else English."""
    guild_locale = interaction.guild_locale
    return pick_locale(
        interaction.locale.value, guild_locale.value if guild_locale is not None else None
    )


class CommandTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        ours = supported_locale(locale.value)
        if ours is None or ours == DEFAULT_LOCALE or string.message == UNDESCRIBED:
            return None
        words = translator(ours)
        name = context.location in NAMES
        if not words.has(string.message, COMMAND_NAME_CONTEXT if name else None):
            return None
        if name:
            return words.pgettext(COMMAND_NAME_CONTEXT, string.message)
        return words.gettext(string.message)
