"""`/feed add|remove|list|status`: thin adapters from interactions to the subscription service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.deliver.sanitize import escape_markdown_inline, neutralize_mentions
from bot.ingest.errors import FeedError
from bot.services.feed_text import describe_status, describe_subscription
from bot.services.subscriptions import MAX_BACKFILL
from cogs._common import missing_channel_permissions, reply, require_manage_guild, runtime_of

if TYPE_CHECKING:
    from bot.app import DigestBot

Interaction = discord.Interaction["DigestBot"]
LIST_LIMIT = 3900


def _safe(text: str) -> str:
    return neutralize_mentions(escape_markdown_inline(text))


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
        mode="instant: one post per item (default); digest: collected into a scheduled digest",
        backfill=f"How many of the newest existing items to post now (0–{MAX_BACKFILL}, default 1)",
        mention="A role to ping with each post (the only ping a feed post can make)",
    )
    async def add(
        self,
        interaction: Interaction,
        url: str,
        channel: discord.TextChannel | None = None,
        mode: Literal["instant", "digest"] = "instant",
        backfill: app_commands.Range[int, 0, MAX_BACKFILL] = 1,
        mention: discord.Role | None = None,
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel | discord.Thread):
            await reply(interaction, "Pick a text channel for the posts with the `channel` option.")
            return
        me = interaction.guild.me
        missing = missing_channel_permissions(target, me) if me is not None else []
        if missing:
            await reply(
                interaction,
                f"I can't post in {target.mention}: I am missing **{', '.join(missing)}** there. "
                "Give my role those permissions in that channel, then try again.",
            )
            return
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
            await reply(interaction, f"Sorry, I couldn't add that feed: {exc.message}")
            return
        title = _safe(result.feed.display_title)
        lines = [
            f"✅ {'Following' if result.created else 'Updated'} **{title}** in {target.mention} "
            f"({mode} mode)."
        ]
        if result.backfilled:
            lines.append(f"Posting its {result.backfilled} newest item(s) there now.")
        if mode == "digest":
            lines.append("Items are collected for the channel's digest (`/digest schedule`).")
        if mention is not None:
            lines.append(f"Each post will ping {mention.mention}.")
            if (
                not mention.mentionable
                and me is not None
                and not me.guild_permissions.mention_everyone
            ):
                lines.append(
                    "Note: that role is not mentionable, so the ping will not notify anyone "
                    "unless you allow it in the role's settings."
                )
        await reply(interaction, "\n".join(lines))

    async def _feed_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        views = await runtime_of(interaction).subscriptions.for_guild(interaction.guild.id)
        wanted = current.lower().strip()
        seen: set[int] = set()
        choices: list[app_commands.Choice[str]] = []
        for view in views:
            feed_id = view.subscription.feed_id
            if feed_id in seen:
                continue
            if wanted and wanted not in view.display_title.lower() and wanted not in view.feed_url:
                continue
            seen.add(feed_id)
            choices.append(app_commands.Choice(name=view.display_title[:100], value=str(feed_id)))
            if len(choices) == 25:
                break
        return choices

    async def _resolve_feed(self, interaction: Interaction, feed: str) -> int | None:
        assert interaction.guild is not None
        views = await runtime_of(interaction).subscriptions.for_guild(interaction.guild.id)
        for view in views:
            if feed in (str(view.subscription.feed_id), view.feed_url):
                return view.subscription.feed_id
        matches = {v.subscription.feed_id for v in views if feed.lower() in v.display_title.lower()}
        if len(matches) == 1:
            return matches.pop()
        await reply(interaction, "This server does not follow that feed. Pick one from the list.")
        return None

    @feed.command(name="remove", description="Stop posting a feed in a channel")
    @app_commands.describe(feed="One of this server's feeds", channel="Only this channel")
    @app_commands.autocomplete(feed=_feed_choices)
    async def remove(
        self, interaction: Interaction, feed: str, channel: discord.TextChannel | None = None
    ) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        feed_id = await self._resolve_feed(interaction, feed)
        if feed_id is None:
            return
        removed = await runtime_of(interaction).subscriptions.unsubscribe(
            interaction.guild.id, feed_id, channel.id if channel else None
        )
        where = f" from {channel.mention}" if channel else ""
        if removed:
            await reply(interaction, f"Removed the feed{where} ({removed} subscription(s)).")
        else:
            await reply(interaction, f"That feed was not posted{where}; nothing changed.")

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
        if not views:
            await reply(interaction, "No feeds yet. Add one with `/feed add url:…`.")
            return
        lines: list[str] = []
        size = 0
        for index, view in enumerate(views):
            line = "• " + describe_subscription(view, markdown=True)
            if size + len(line) > LIST_LIMIT:
                lines.append(f"…and {len(views) - index} more.")
                break
            lines.append(line)
            size += len(line) + 1
        embed = discord.Embed(title="Feeds in this server", description="\n".join(lines))
        await reply(interaction, embed=embed)

    @feed.command(name="status", description="Last poll, errors and next poll of one feed")
    @app_commands.describe(feed="One of this server's feeds")
    @app_commands.autocomplete(feed=_feed_choices)
    async def status(self, interaction: Interaction, feed: str) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        feed_id = await self._resolve_feed(interaction, feed)
        if feed_id is None:
            return
        runtime = runtime_of(interaction)
        views = await runtime.subscriptions.status(interaction.guild.id, feed_id)
        if not views:
            await reply(interaction, "This server does not follow that feed.")
            return
        text = describe_status(views[0], now=runtime.clock(), markdown=True)
        channels = ", ".join(f"<#{v.subscription.channel_id}>" for v in views)
        await reply(interaction, f"{text}\nPosts in: {channels}")

    async def cog_app_command_error(  # type: ignore[override]
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        await reply(interaction, "Sorry, something went wrong with that command. Please try again.")
        raise error


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(FeedCog(bot))
