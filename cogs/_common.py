"""What every cog shares: the runtime of the bot, admin checks, polite ephemeral answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.delivery.discord_message import answer
from bot.model import Message
from bot.runtime import Runtime
from bot.safe import one_line, strip_control

if TYPE_CHECKING:
    from bot.app import DigestBot

# What README.md's invite asks for. Read Message History lets the bot check, after a crash or
# a lost answer, whether a post already went through (bot.delivery.discord_sender.DiscordSender).
REQUIRED_CHANNEL_PERMISSIONS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("embed_links", "Embed Links"),
    ("read_message_history", "Read Message History"),
)


def runtime_of(interaction: discord.Interaction[DigestBot]) -> Runtime:
    return interaction.client.runtime


async def reply(interaction: discord.Interaction[DigestBot], message: Message | str) -> None:
    """An ephemeral answer, whether or not the interaction was deferred. Pings only what the
    Message allows (answers never name a role to ping). A `str` is a text-only answer of our
    own words that only the cog gives (an interaction's plumbing: "no more results")."""
    await answer(interaction, Message(content=message) if isinstance(message, str) else message)


def notice(text: str) -> Message:
    """One of the checks below answering in its own words."""
    return Message(content=text)


async def require_manage_guild(interaction: discord.Interaction[DigestBot]) -> bool:
    """Checked again at run time: server admins can change who sees the command."""
    if interaction.guild is None:
        await reply(interaction, notice("This command only works in a server."))
        return False
    if not interaction.permissions.manage_guild:
        await reply(interaction, notice("You need the **Manage Server** permission to do that."))
        return False
    return True


def missing_channel_permissions(
    channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member
) -> list[str]:
    permissions = channel.permissions_for(me)
    return [name for attr, name in REQUIRED_CHANNEL_PERMISSIONS if not getattr(permissions, attr)]


CHOICE_LIMIT = 100  # Discord's limit on an autocomplete choice's or a select option's text


def choice_label(text: str, limit: int = CHOICE_LIMIT) -> str:
    """Text for an autocomplete choice or select option (Discord shows it as plain text)."""
    cleaned = one_line(strip_control(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


async def guild_feed_choices(
    interaction: discord.Interaction[DigestBot], current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for a `feed` option: at most 25 of this guild's feeds, never another's."""
    if interaction.guild is None:
        return []
    feeds = await runtime_of(interaction).search.feed_choices(interaction.guild.id, current)
    return [
        app_commands.Choice(
            name=choice_label(feed.title) or choice_label(feed.url) or f"feed {feed.feed_id}",
            value=str(feed.feed_id),
        )
        for feed in feeds
    ]


async def postable_channel(
    interaction: discord.Interaction[DigestBot], channel: discord.TextChannel | None
) -> discord.TextChannel | discord.Thread | None:
    """The channel to post in (the chosen one, else this one) if the bot can post there;
    otherwise answer with what is missing and return None."""
    target = channel or interaction.channel
    if not isinstance(target, discord.TextChannel | discord.Thread):
        await reply(
            interaction, notice("Pick a text channel for the posts with the `channel` option.")
        )
        return None
    me = interaction.guild.me if interaction.guild is not None else None
    missing = missing_channel_permissions(target, me) if me is not None else []
    if missing:
        await reply(
            interaction,
            notice(
                f"I can't post in {target.mention}: I am missing **{', '.join(missing)}** "
                "there. Give my role those permissions in that channel, then try again."
            ),
        )
        return None
    return target
