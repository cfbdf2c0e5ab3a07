"""`/follow`, `/unfollow`, `/following` and the "Stop this topic" button of topic DMs.

They call the runtime's `FollowService` (it keeps the percolator current); answers are
ephemeral. While a member's DMs are known closed, the first of these commands they use says
why their follows are paused and how to resume; then `/follow` or `/following` resumes them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_locale import member_locale
from bot.features.follow import render
from bot.features.follow.dm import STOP_LABEL, STOP_TOPIC_TEMPLATE, stop_topic_custom_id
from bot.features.search.service import SearchInputError
from bot.i18n import _, set_locale
from bot.model import Message
from bot.store.topics import MAX_TOPIC_CHARS
from cogs._common import GuildCog, Interaction, choice_label, guild_feed_choices, guild_of, reply

if TYPE_CHECKING:
    from bot.app import DigestBot


class StopTopicButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=STOP_TOPIC_TEMPLATE,
):
    """The "Stop this topic" button under a topic DM. Its custom id names the topic, so it
    works after a restart; only the topic's own member can use it."""

    def __init__(self, topic_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=_(STOP_LABEL),
                style=discord.ButtonStyle.secondary,
                custom_id=stop_topic_custom_id(topic_id),
            )
        )
        self.topic_id = topic_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: Interaction,
        item: discord.ui.Button[discord.ui.View],
        match: re.Match[str],
        /,
    ) -> StopTopicButton:
        return cls(int(match["topic_id"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        set_locale(member_locale(interaction))  # a DM's button: no command set it
        result = await interaction.client.runtime.follows.stop_topic(
            self.topic_id, interaction.user.id
        )
        guild = interaction.client.get_guild(result.topic.guild_id) if result.topic else None
        await reply(interaction, render.render_stop(result, guild.name if guild else None))


class FollowCog(GuildCog):
    def not_in_server(self) -> Message:
        return render.render_not_in_server()

    @commands.Cog.listener()
    async def on_app_command_completion(
        self,
        interaction: Interaction,
        command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu,
    ) -> None:
        """Any other command by a member whose DMs turned out closed: tell them, once, why
        their follows are paused and how to resume (the follow commands say it themselves)."""
        if command.qualified_name in {own.name for own in self.get_app_commands()}:
            return
        notice = await self.runtime.follows.dm_notice(interaction.user.id, may_resume=False)
        if notice is not None:
            await reply(interaction, notice)

    async def _topic_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        topics = await self.runtime.follows.topic_choices(
            interaction.guild.id, interaction.user.id, current
        )
        return [
            app_commands.Choice(
                name=choice_label(t.query) or _("topic {number}", number=t.id), value=str(t.id)
            )
            for t in topics
        ]

    @app_commands.command(name="follow", description="Get a DM when a new post matches a topic")
    @app_commands.guild_only()
    @app_commands.describe(
        topic='Words to watch for, like /search: words, "a phrase", -leave_out, this OR that',
        feed="Only posts of this feed",
    )
    @app_commands.autocomplete(feed=guild_feed_choices)
    async def follow(
        self,
        interaction: Interaction,
        topic: app_commands.Range[str, 1, MAX_TOPIC_CHARS],
        feed: str | None = None,
    ) -> None:
        notice = await self.runtime.follows.dm_notice(interaction.user.id, may_resume=True)
        try:
            answer = await self.runtime.follows.follow(
                guild_of(interaction).id, interaction.user.id, topic, feed=feed
            )
        except SearchInputError as exc:
            await reply(interaction, render.render_follow_refused(exc.message, notice))
            return
        await reply(interaction, render.render_follow(answer, notice))

    @app_commands.command(name="unfollow", description="Stop the DMs for one of your topics")
    @app_commands.guild_only()
    @app_commands.describe(topic="One of the topics you follow in this server")
    @app_commands.autocomplete(topic=_topic_choices)
    async def unfollow(self, interaction: Interaction, topic: str) -> None:
        notice = await self.runtime.follows.dm_notice(interaction.user.id, may_resume=False)
        removed = await self.runtime.follows.unfollow(
            guild_of(interaction).id, interaction.user.id, topic
        )
        await reply(interaction, render.render_unfollow(removed, notice))

    @app_commands.command(name="following", description="The topics you follow in this server")
    @app_commands.guild_only()
    async def following(self, interaction: Interaction) -> None:
        notice = await self.runtime.follows.dm_notice(interaction.user.id, may_resume=True)
        topics = await self.runtime.follows.following(guild_of(interaction).id, interaction.user.id)
        await reply(interaction, render.render_following(topics, notice))


async def setup(bot: DigestBot) -> None:
    bot.add_dynamic_items(StopTopicButton)
    await bot.add_cog(FollowCog(bot))


async def teardown(bot: DigestBot) -> None:
    bot.remove_dynamic_items(StopTopicButton)
