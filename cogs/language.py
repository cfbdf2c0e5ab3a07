"""`/language channel`: the language a channel's posts, digests and notices are written in
(`auto`: the server's own language, as Discord tells it). Members' answers always follow their
own Discord language; this setting is only for what goes to a channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from bot.features.posts.language import render_channel_language
from cogs._common import GuildCog, Interaction, PostTarget, guild_of, reply

if TYPE_CHECKING:
    from bot.app import DigestBot


class LanguageCog(GuildCog):
    language = app_commands.Group(
        name="language",
        description="The language the bot writes in",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    manage_guild = True

    @language.command(
        name="channel", description="The language of a channel's posts, digests and notices"
    )
    @app_commands.describe(
        channel="The channel (default: this one)",
        language="auto: the server's language (no value: show the setting)",
    )
    async def channel(
        self,
        interaction: Interaction,
        channel: PostTarget | None = None,
        language: Literal["auto", "en", "ja"] | None = None,
    ) -> None:
        target = channel or interaction.channel
        if target is None:
            return
        label = target.mention if isinstance(target, PostTarget) else f"<#{target.id}>"
        languages = self.runtime.languages
        if language is None:
            setting = await languages.channel_setting(target.id)
            await reply(interaction, render_channel_language(setting, channel=label, changed=False))
            return
        setting = await languages.set_channel(guild_of(interaction).id, target.id, language)
        await reply(interaction, render_channel_language(setting, channel=label, changed=True))


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(LanguageCog(bot))
