"""`/feed add|remove|list|status|mode|import|export`: parse the interaction, call the
subscription service, send the answer `bot.features.feeds.render` renders."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.discord_message import send_kwargs
from bot.features.digest.service import NotSubscribedError
from bot.features.feeds import render
from bot.features.feeds.opml import MAX_OPML_BYTES, OpmlError
from bot.features.feeds.subscriptions import MAX_BACKFILL
from bot.features.search.service import SearchInputError
from bot.ingest.errors import FeedError
from bot.model import Message
from cogs._common import (
    guild_feed_choices,
    postable_channel,
    reply,
    require_manage_guild,
    runtime_of,
)

if TYPE_CHECKING:
    from bot.app import DigestBot

Interaction = discord.Interaction["DigestBot"]


class FeedCog(commands.Cog):
    feed = app_commands.Group(
        name="feed",
        description="Follow newsletters in this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: DigestBot) -> None:
        self.bot = bot

    @feed.command(name="add", description="Post a newsletter's new items in a channel")
    @app_commands.describe(
        url="The feed's URL, or the newsletter's web address (its feed is found for you)",
        channel="Where to post (default: this channel)",
        mode="instant: a post per item (new feeds' default); digest: into a scheduled digest",
        backfill=f"How many of the newest existing items to post now (0–{MAX_BACKFILL}, default 1)",
        mention="A role to ping with each post (left out: a feed already here keeps its ping)",
    )
    async def add(
        self,
        interaction: Interaction,
        url: str,
        channel: discord.TextChannel | None = None,
        mode: Literal["instant", "digest"] | None = None,
        backfill: app_commands.Range[int, 0, MAX_BACKFILL] = 1,
        mention: discord.Role | None = None,
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        target = await postable_channel(interaction, channel)
        if target is None:
            return
        me = interaction.guild.me
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await runtime_of(interaction).subscriptions.subscribe(
                guild_id=interaction.guild.id,
                channel_id=target.id,
                url=url,
                mode=mode,
                backfill=backfill,
                mention_role_id=mention.id if mention else None,
                added_by=interaction.user.id,
            )
        except FeedError as exc:
            await reply(interaction, render.render_add_failed(exc.message))
            return
        notifies = (
            mention is None
            or mention.mentionable
            or (me is not None and me.guild_permissions.mention_everyone)
        )
        await reply(
            interaction,
            render.render_add(
                result,
                channel=target.mention,
                pinged_role_id=mention.id if mention else None,
                role_notifies=notifies,
            ),
        )

    @feed.command(name="remove", description="Stop posting a feed in a channel")
    @app_commands.describe(feed="One of this server's feeds", channel="Only this channel")
    @app_commands.autocomplete(feed=guild_feed_choices)
    async def remove(
        self, interaction: Interaction, feed: str, channel: discord.TextChannel | None = None
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        try:
            removal = await runtime_of(interaction).subscriptions.remove(
                interaction.guild.id, feed, channel.id if channel else None
            )
        except SearchInputError as exc:
            await reply(interaction, render.text_answer(exc.message))
            return
        await reply(
            interaction, render.render_remove(removal, channel=channel.mention if channel else None)
        )

    @feed.command(name="list", description="This server's feeds, where they post, and their health")
    @app_commands.describe(channel="Only this channel")
    async def list_(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        views = await runtime_of(interaction).subscriptions.for_guild(
            interaction.guild.id, channel.id if channel else None
        )
        await reply(interaction, render.render_list(views))

    @feed.command(name="status", description="Last poll, errors and next poll of one feed")
    @app_commands.describe(feed="One of this server's feeds")
    @app_commands.autocomplete(feed=guild_feed_choices)
    async def status(self, interaction: Interaction, feed: str) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        try:
            found = await runtime_of(interaction).subscriptions.status(interaction.guild.id, feed)
        except SearchInputError as exc:
            await reply(interaction, render.text_answer(exc.message))
            return
        await reply(interaction, render.render_status(found))

    @feed.command(
        name="mode", description="Switch a channel's feed between instant posts and the digest"
    )
    @app_commands.describe(
        feed="One of this server's feeds",
        channel="The channel it posts in",
        mode="instant: one post per item; digest: collected into the channel's digest",
    )
    @app_commands.autocomplete(feed=guild_feed_choices)
    async def mode(
        self,
        interaction: Interaction,
        feed: str,
        channel: discord.TextChannel,
        mode: Literal["instant", "digest"],
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        try:
            change = await runtime_of(interaction).subscriptions.set_mode(
                interaction.guild.id, channel.id, feed, mode
            )
        except SearchInputError as exc:
            await reply(interaction, render.text_answer(exc.message))
            return
        except NotSubscribedError:
            await reply(interaction, render.render_not_posted_in(channel.mention))
            return
        await reply(interaction, render.render_mode(mode, change.posted, channel=channel.mention))

    @feed.command(name="import", description="Follow every feed of an OPML file in a channel")
    @app_commands.describe(
        file="An OPML file exported from another reader (at most 1 MiB, 500 feeds)",
        channel="Where to post (default: this channel)",
        mode="instant (default) or digest (left out: feeds already here keep their mode)",
    )
    async def import_(
        self,
        interaction: Interaction,
        file: discord.Attachment,
        channel: discord.TextChannel | None = None,
        mode: Literal["instant", "digest"] | None = None,
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        target = await postable_channel(interaction, channel)
        if target is None:
            return
        if file.size > MAX_OPML_BYTES:
            await reply(interaction, render.render_import_too_large())
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        runtime = runtime_of(interaction)
        progress = ImportProgress(interaction, clock=runtime.clock)
        try:
            results = await runtime.subscriptions.import_feeds(
                await file.read(),
                guild_id=interaction.guild.id,
                channel_id=target.id,
                mode=mode,
                added_by=interaction.user.id,
                progress=progress.update,
            )
        except OpmlError as exc:
            await reply(interaction, render.render_import_refused(str(exc)))
            return
        except discord.HTTPException:
            await reply(interaction, render.render_import_unreadable())
            return
        await edit_answer(interaction, render.render_import_done(results, channel=target.mention))

    @feed.command(name="export", description="This server's feeds as an OPML file")
    async def export(self, interaction: Interaction) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        exported = await runtime_of(interaction).subscriptions.export(
            interaction.guild.id, f"{interaction.guild.name} — digestbot"
        )
        await reply(interaction, render.render_export(exported.document, exported.count))


async def edit_answer(interaction: Interaction, message: Message) -> None:
    """Replace the deferred answer with `message` (its files become the attachments)."""
    kwargs = send_kwargs(message)
    files = kwargs.pop("files", [])
    kwargs.setdefault("content", None)
    await interaction.edit_original_response(attachments=files, **kwargs)


class ImportProgress:
    """Edits the deferred reply every few seconds while an import runs."""

    def __init__(
        self,
        interaction: Interaction,
        *,
        clock: Callable[[], float],
        every_s: float = 3.0,
    ) -> None:
        self._interaction = interaction
        self._clock = clock
        self._every_s = every_s
        self._last = clock()

    async def update(self, done: int, total: int) -> None:
        now = self._clock()
        if now - self._last < self._every_s or done == total:
            return
        self._last = now
        with contextlib.suppress(discord.HTTPException):
            await edit_answer(self._interaction, render.render_import_progress(done, total))


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(FeedCog(bot))
