"""The `/feed` commands: parse the interaction, call the subscription service, send the answer
its feature renders."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import discord
from discord import app_commands

from bot.delivery.discord_message import send_kwargs
from bot.features.feeds import render, threads
from bot.features.feeds.filters import MAX_FILTER_CHARS
from bot.features.feeds.mention import render_mention
from bot.features.feeds.opml import MAX_OPML_BYTES, OpmlError
from bot.features.feeds.post_format import render_format, render_no_preview
from bot.features.feeds.subscriptions import MAX_BACKFILL
from bot.features.feeds.testpost import render_test_post
from bot.features.feeds.webhook_identity import render_identity, render_needs_manage_webhooks
from bot.features.posts.format import MAX_TEMPLATE_CHARS
from bot.i18n import _
from bot.ingest.errors import FeedError
from bot.model import Message
from cogs._common import (
    GuildCog,
    Interaction,
    PostTarget,
    forum_tag_choices,
    forum_tags,
    guild_feed_choices,
    guild_of,
    postable_channel,
    reply,
    settle,
)

if TYPE_CHECKING:
    from bot.app import DigestBot

PROGRESS_EVERY_S = 3.0  # an import's answer shows its progress this often
T = TypeVar("T")


def feed_option(**described: str) -> Callable[[T], T]:
    """`describe` for a /feed command, whose `feed` option is one of this server's feeds."""

    def decorate(callback: T) -> T:
        described_callback = app_commands.describe(feed="One of this server's feeds", **described)
        return app_commands.autocomplete(feed=guild_feed_choices)(described_callback(callback))

    return decorate


def role_notifies(guild: discord.Guild, role: discord.Role | None) -> bool:
    """Whether a ping of `role` notifies its members (False makes the answer say it won't)."""
    me = guild.me
    return (
        role is None
        or role.mentionable
        or (me is not None and me.guild_permissions.mention_everyone)
    )


class FeedCog(GuildCog):
    feed = app_commands.Group(
        name="feed",
        description="Follow newsletters in this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    manage_guild = True

    @feed.command(name="add", description="Post a newsletter's new items in a channel")
    @app_commands.describe(
        url="The feed's URL, or the newsletter's web address (its feed is found for you)",
        channel="Where to post (default: this channel)",
        mode="instant: a post per item (new feeds' default); digest: into a scheduled digest",
        backfill=f"How many of the newest existing items to post now (0–{MAX_BACKFILL}, default 1)",
        mention="A role to ping with each post (left out: a feed already here keeps its ping)",
        tag="In a forum: the tag each new post carries",
    )
    @app_commands.autocomplete(tag=forum_tag_choices)
    async def add(
        self,
        interaction: Interaction,
        url: str,
        channel: PostTarget | None = None,
        mode: Literal["instant", "digest"] | None = None,
        backfill: app_commands.Range[int, 0, MAX_BACKFILL] = 1,
        mention: discord.Role | None = None,
        tag: str | None = None,
    ) -> None:
        target = await postable_channel(interaction, channel)
        if target is None:
            return
        forum_tag = None
        if tag is not None:
            if not isinstance(target, discord.ForumChannel):
                await reply(interaction, threads.render_tag_needs_forum())
                return
            tags = forum_tags(target)
            forum_tag = threads.pick_tag(tags, tag)
            if forum_tag is None:
                await reply(interaction, threads.render_unknown_tag(tags, target.mention))
                return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.runtime.subscriptions.subscribe(
                guild_id=guild_of(interaction).id,
                channel_id=target.id,
                url=url,
                mode=mode,
                backfill=backfill,
                mention_role_id=mention.id if mention else None,
                added_by=interaction.user.id,
                forum_tag_id=forum_tag.id if forum_tag else None,
            )
        except FeedError as exc:
            await reply(interaction, render.render_add_failed(exc.message))
            return
        answer = render.render_add(
            result,
            channel=target.mention,
            pinged_role_id=mention.id if mention else None,
            role_notifies=role_notifies(guild_of(interaction), mention),
        )
        if forum_tag is not None:
            answer = threads.with_tag_line(answer, forum_tag, target.mention)
        await reply(interaction, answer)

    @feed.command(name="remove", description="Stop posting a feed in a channel")
    @feed_option(channel="Only this channel")
    async def remove(
        self, interaction: Interaction, feed: str, channel: PostTarget | None = None
    ) -> None:
        channel_id, where = (channel.id, channel.mention) if channel else (None, None)
        work = self.runtime.subscriptions.remove(guild_of(interaction).id, feed, channel_id)
        await settle(
            interaction, work, lambda removal: render.render_remove(removal, channel=where)
        )

    @feed.command(name="list", description="This server's feeds, where they post, and their health")
    @app_commands.describe(channel="Only this channel")
    async def list_(self, interaction: Interaction, channel: PostTarget | None = None) -> None:
        views = await self.runtime.subscriptions.for_guild(
            guild_of(interaction).id, channel.id if channel else None
        )
        rhythms = await self.runtime.subscriptions.rhythms(views)
        await reply(interaction, render.render_list(views, rhythms=rhythms))

    @feed.command(name="status", description="Last poll, errors and next poll of one feed")
    @feed_option()
    async def status(self, interaction: Interaction, feed: str) -> None:
        work = self.runtime.subscriptions.status(guild_of(interaction).id, feed)
        await settle(interaction, work, render.render_status)

    @feed.command(
        name="mode", description="Switch a channel's feed between instant posts and the digest"
    )
    @feed_option(
        channel="The channel it posts in",
        mode="instant: one post per item; digest: collected into the channel's digest",
    )
    async def mode(
        self,
        interaction: Interaction,
        feed: str,
        channel: PostTarget,
        mode: Literal["instant", "digest"],
    ) -> None:
        await settle(
            interaction,
            self.runtime.subscriptions.set_mode(guild_of(interaction).id, channel.id, feed, mode),
            lambda change: render.render_mode(mode, change.posted, channel=channel.mention),
            channel.mention,
        )

    @feed.command(name="filter", description="Choose which items of a feed are posted in a channel")
    @feed_option(
        channel="The channel it posts in (default: its only channel)",
        include='Only post items matching this search (words, "phrases", -word, OR)',
        exclude="Never post items matching this search",
        pattern=r"Never post items whose title or summary matches this RE2 regex, e.g. ^\[Ad\]",
        clear="Remove the filter (with other options: start the filter afresh from them)",
    )
    async def filter_(
        self,
        interaction: Interaction,
        feed: str,
        channel: PostTarget | None = None,
        include: app_commands.Range[str, 1, MAX_FILTER_CHARS] | None = None,
        exclude: app_commands.Range[str, 1, MAX_FILTER_CHARS] | None = None,
        pattern: app_commands.Range[str, 1, MAX_FILTER_CHARS] | None = None,
        clear: bool = False,
    ) -> None:
        work = self.runtime.subscriptions.set_filter(
            guild_of(interaction).id,
            feed,
            channel.id if channel else None,
            include=include,
            exclude=exclude,
            pattern=pattern,
            clear=clear,
        )
        await settle(interaction, work, render.render_filter, channel.mention if channel else None)

    @feed.command(name="mention", description="Ping a role with a feed's posts, or only some")
    @feed_option(
        channel="The channel it posts in (default: this channel)",
        role="The role to ping (left out: no ping)",
        when='Only posts matching these words ping (as /search: words, "phrases", -word, OR)',
    )
    async def mention(
        self,
        interaction: Interaction,
        feed: str,
        channel: PostTarget | None = None,
        role: discord.Role | None = None,
        when: str | None = None,
    ) -> None:
        channel_id = channel.id if channel else interaction.channel_id
        if channel_id is None:
            await reply(interaction, _("Pick the channel with the `channel` option."))
            return
        notifies = role_notifies(guild_of(interaction), role)
        await settle(
            interaction,
            self.runtime.subscriptions.set_mention(
                guild_of(interaction).id, channel_id, feed, role.id if role else None, when
            ),
            lambda rule: render_mention(rule, channel=f"<#{channel_id}>", role_notifies=notifies),
            f"<#{channel_id}>",
        )

    @feed.command(name="threads", description="Open a thread for the discussion of each post")
    @feed_option(
        channel="The text channel it posts in",
        on="True: each post opens a thread named after its item; False: no threads",
    )
    async def threads_(
        self, interaction: Interaction, feed: str, channel: discord.TextChannel, on: bool
    ) -> None:
        me = guild_of(interaction).me
        if on and me is not None and not channel.permissions_for(me).create_public_threads:
            await reply(
                interaction,
                _(
                    "I can't open threads in {channel}: I am missing **{permission}** there. "
                    "Give my role that permission in that channel, then try again.",
                    channel=channel.mention,
                    permission=_("Create Public Threads"),
                ),
            )
            return
        await settle(
            interaction,
            self.runtime.subscriptions.set_threads(guild_of(interaction).id, channel.id, feed, on),
            lambda setting: threads.render_threads(setting, channel=channel.mention),
            channel.mention,
        )

    @feed.command(name="identity", description="Post a feed as the bot, or as the feed itself")
    @feed_option(
        channel="The channel it posts in (default: this channel)",
        mode="bot (default): posts come from me; webhook: from the feed's name and avatar",
        name="The name posts show (default: the feed's title)",
        avatar="The avatar image's address (https://…)",
    )
    async def identity(
        self,
        interaction: Interaction,
        feed: str,
        mode: Literal["bot", "webhook"],
        channel: discord.TextChannel | None = None,
        name: str | None = None,
        avatar: str | None = None,
    ) -> None:
        guild = guild_of(interaction)
        channel_id = channel.id if channel else interaction.channel_id
        if channel_id is None:
            await reply(interaction, _("Pick the channel with the `channel` option."))
            return
        if mode == "webhook":
            target = guild.get_channel(channel_id)
            me = guild.me
            if (
                target is not None
                and me is not None
                and not target.permissions_for(me).manage_webhooks
            ):
                await reply(interaction, render_needs_manage_webhooks(f"<#{channel_id}>"))
                return
        await settle(
            interaction,
            self.runtime.subscriptions.set_identity(guild.id, channel_id, feed, mode, name, avatar),
            lambda change: render_identity(change, channel=f"<#{channel_id}>"),
            f"<#{channel_id}>",
        )

    @feed.command(name="merge", description="Merge a feed's copies of a story already posted")
    @feed_option(
        on="on: a story the channel got from another feed names this feed under that post; "
        "off: always post",
        channel="The channel it posts in (default: this channel)",
    )
    async def merge(
        self,
        interaction: Interaction,
        feed: str,
        on: bool,
        channel: discord.TextChannel | None = None,
    ) -> None:
        channel_id = channel.id if channel else interaction.channel_id
        if channel_id is None:
            await reply(interaction, _("Pick the channel with the `channel` option."))
            return
        await settle(
            interaction,
            self.runtime.subscriptions.set_merge(guild_of(interaction).id, channel_id, feed, on),
            lambda found: render.render_merge(found, on, channel=f"<#{channel_id}>"),
            f"<#{channel_id}>",
        )

    @feed.command(name="test", description="Post a feed's newest item now, as a real post")
    @feed_option(channel="The channel it posts in (default: this one)")
    async def test(
        self, interaction: Interaction, feed: str, channel: PostTarget | None = None
    ) -> None:
        target = await postable_channel(interaction, channel)
        if target is None:
            return
        await settle(
            interaction,
            self.runtime.subscriptions.test_post(
                guild_of(interaction).id, target.id, feed, request=str(interaction.id)
            ),
            lambda post: render_test_post(post, channel=target.mention),
            target.mention,
        )

    @feed.command(name="format", description="Choose how a feed's posts look in a channel")
    @feed_option(
        channel="The channel it posts in (default: its only channel)",
        style="card: the embed (default); compact: one line with a link; text: only the template",
        template="The message text: {title} {link} {summary} {excerpt:300} {author} {feed} …",
        reset="Back to the default card (with other options: start afresh from them)",
    )
    async def format_(
        self,
        interaction: Interaction,
        feed: str,
        channel: discord.TextChannel | None = None,
        style: Literal["card", "compact", "text"] | None = None,
        template: app_commands.Range[str, 1, MAX_TEMPLATE_CHARS] | None = None,
        reset: bool = False,
    ) -> None:
        await settle(
            interaction,
            self.runtime.subscriptions.set_format(
                guild_of(interaction).id,
                feed,
                channel.id if channel else None,
                style=style,
                template=template,
                reset=reset,
            ),
            lambda change: render_format(change, channel=f"<#{change.channel_id}>"),
            channel.mention if channel else None,
        )

    @feed.command(name="preview", description="Exactly what a feed's next post will look like")
    @feed_option(channel="The channel it posts in (default: its only channel)")
    async def preview(
        self, interaction: Interaction, feed: str, channel: discord.TextChannel | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await settle(
            interaction,
            self.runtime.subscriptions.preview(
                guild_of(interaction).id,
                feed,
                channel.id if channel else None,
                self.runtime.languages.for_channel,
            ),
            lambda found: found[1] if found[1] is not None else render_no_preview(found[0]),
            channel.mention if channel else None,
        )

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
        channel: PostTarget | None = None,
        mode: Literal["instant", "digest"] | None = None,
    ) -> None:
        target = await postable_channel(interaction, channel)
        if target is None:
            return
        if file.size > MAX_OPML_BYTES:
            await reply(interaction, render.render_import_too_large())
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        clock = self.runtime.clock
        shown_at = clock()

        async def progress(done: int, total: int) -> None:
            nonlocal shown_at
            if clock() - shown_at < PROGRESS_EVERY_S or done == total:
                return
            shown_at = clock()
            with contextlib.suppress(discord.HTTPException):
                await edit_answer(interaction, render.render_import_progress(done, total))

        try:
            results = await self.runtime.subscriptions.import_feeds(
                await file.read(),
                guild_id=guild_of(interaction).id,
                channel_id=target.id,
                mode=mode,
                added_by=interaction.user.id,
                progress=progress,
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
        guild = guild_of(interaction)
        exported = await self.runtime.subscriptions.export(guild.id, f"{guild.name} — digestbot")
        await reply(interaction, render.render_export(exported.document, exported.count))


async def edit_answer(interaction: Interaction, message: Message) -> None:
    """Replace the deferred answer with `message` (its files become the attachments)."""
    kwargs = send_kwargs(message)
    files = kwargs.pop("files", [])
    kwargs.setdefault("content", None)
    await interaction.edit_original_response(attachments=files, **kwargs)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(FeedCog(bot))
