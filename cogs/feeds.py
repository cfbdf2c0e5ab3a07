"""`/feed add|remove|list|status`: thin adapters from interactions to the subscription service."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.features.digest.service import NotSubscribedError
from bot.features.feeds.opml import (
    OpmlError,
    OpmlFeed,
    export_opml,
    import_opml,
    import_report,
    parse_opml,
)
from bot.features.feeds.render import describe_status, describe_subscription
from bot.features.feeds.subscriptions import MAX_BACKFILL
from bot.features.search.service import SearchInputError
from bot.ingest.errors import FeedError
from bot.safe import escape_markdown, neutralize_mentions
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
LIST_LIMIT = 3900
MAX_OPML_BYTES = 1024 * 1024


def _safe(text: str) -> str:
    return neutralize_mentions(escape_markdown(text))


def _role(role_id: int | None) -> str:
    return "none" if role_id is None else f"<@&{role_id}>"


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
            await reply(interaction, f"Sorry, I couldn't add that feed: {exc.message}")
            return
        title = _safe(result.feed.display_title)
        now_mode = result.subscription.mode
        lines: list[str] = []
        if result.discovered:
            lines.append(f"Found the feed **{title}** at <{result.feed.url}>.")
        if result.created:
            lines.append(f"✅ Following **{title}** in {target.mention} ({now_mode} mode).")
        else:
            changed, kept = result.changes(_role)
            line = f"✅ Already following **{title}** in {target.mention}. "
            line += f"Changed: {'; '.join(changed)}." if changed else "Nothing changed."
            if kept:
                line += f" Kept: {'; '.join(kept)}."
            lines.append(line)
        if result.backfilled:
            lines.append(f"Posting its {result.backfilled} newest item(s) there now.")
        if result.released:
            lines.append(
                f"Posting the {result.released} item(s) that were waiting for the digest now."
            )
        previous_mode = result.previous.mode if result.previous is not None else None
        if now_mode == "digest" and previous_mode != "digest":
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

    async def _resolve_feed(self, interaction: Interaction, feed: str) -> int | None:
        assert interaction.guild is not None
        try:
            found = await runtime_of(interaction).search.resolve_feed(interaction.guild.id, feed)
        except SearchInputError as exc:
            await reply(interaction, exc.message)
            return None
        return found.feed_id

    @feed.command(name="remove", description="Stop posting a feed in a channel")
    @app_commands.describe(feed="One of this server's feeds", channel="Only this channel")
    @app_commands.autocomplete(feed=guild_feed_choices)
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
    @app_commands.autocomplete(feed=guild_feed_choices)
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
        feed_id = await self._resolve_feed(interaction, feed)
        if feed_id is None:
            return
        try:
            change = await runtime_of(interaction).digests.set_mode(
                interaction.guild.id, channel.id, feed_id, mode
            )
        except NotSubscribedError:
            await reply(interaction, f"That feed does not post in {channel.mention}.")
            return
        extra = " Schedule the digest with `/digest schedule`." if mode == "digest" else ""
        if change.posted:
            extra = f" Posting the {change.posted} item(s) that were waiting for the digest now."
        await reply(
            interaction, f"That feed is now in **{mode}** mode in {channel.mention}.{extra}"
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
            await reply(interaction, "That file is larger than 1 MiB; split it and try again.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            # Off the loop: a 1 MiB file of empty folders holds it ~250 ms (bench/import_lag.py).
            feeds = await asyncio.to_thread(parse_opml, await file.read())
        except OpmlError as exc:
            await reply(interaction, f"Sorry, I can't import that file: {exc}")
            return
        except discord.HTTPException:
            await reply(interaction, "Sorry, I could not download that file. Please try again.")
            return
        guild_id, channel_id, user_id = interaction.guild.id, target.id, interaction.user.id
        runtime = runtime_of(interaction)
        progress = ImportProgress(interaction, len(feeds), clock=runtime.clock)

        async def add(url: str) -> bool:
            result = await runtime.subscriptions.subscribe(
                guild_id=guild_id,
                channel_id=channel_id,
                url=url,
                mode=mode,
                backfill=0,
                added_by=user_id,
            )
            return result.created

        results = await import_opml(feeds, add, progress=progress.update)
        report = import_report(results)
        summary = f"Import into {target.mention} finished: {_safe(report[-1])}."
        await interaction.edit_original_response(
            content=summary,
            attachments=[report_file("\n".join(report), "opml-import-report.txt")],
        )

    @feed.command(name="export", description="This server's feeds as an OPML file")
    async def export(self, interaction: Interaction) -> None:
        if not await require_manage_guild(interaction):
            return
        assert interaction.guild is not None
        views = await runtime_of(interaction).subscriptions.for_guild(interaction.guild.id)
        seen: dict[str, OpmlFeed] = {}
        for view in views:
            seen.setdefault(
                view.feed_url, OpmlFeed(view.display_title, view.feed_url, view.site_url)
            )
        if not seen:
            await reply(interaction, "This server follows no feeds yet.")
            return
        data = export_opml(list(seen.values()), f"{interaction.guild.name} — digestbot")
        await interaction.response.send_message(
            f"{len(seen)} feed(s).",
            file=discord.File(io.BytesIO(data), filename="digestbot-feeds.opml"),
            ephemeral=True,
        )


class ImportProgress:
    """Edits the deferred reply every few seconds while an import runs."""

    def __init__(
        self,
        interaction: Interaction,
        total: int,
        *,
        clock: Callable[[], float],
        every_s: float = 3.0,
    ) -> None:
        self._interaction = interaction
        self._total = total
        self._clock = clock
        self._every_s = every_s
        self._last = clock()

    async def update(self, done: int, total: int) -> None:
        now = self._clock()
        if now - self._last < self._every_s or done == total:
            return
        self._last = now
        with contextlib.suppress(discord.HTTPException):
            await self._interaction.edit_original_response(
                content=f"Importing… {done}/{total} feeds checked."
            )


def report_file(text: str, filename: str) -> discord.File:
    return discord.File(io.BytesIO(text.encode("utf-8")), filename=filename)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(FeedCog(bot))
