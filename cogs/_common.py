"""What every cog shares: the runtime of the bot, admin checks, polite ephemeral answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.runtime import Runtime

if TYPE_CHECKING:
    from bot.app import DigestBot

REQUIRED_CHANNEL_PERMISSIONS = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("embed_links", "Embed Links"),
)


def runtime_of(interaction: discord.Interaction[DigestBot]) -> Runtime:
    return interaction.client.runtime


async def reply(
    interaction: discord.Interaction[DigestBot],
    text: str | None = None,
    *,
    embed: discord.Embed | None = None,
) -> None:
    """An ephemeral answer, whether or not the interaction was deferred. Never pings."""
    none = discord.AllowedMentions.none()
    if interaction.response.is_done():
        if embed is None:
            await interaction.followup.send(text or "", ephemeral=True, allowed_mentions=none)
        else:
            await interaction.followup.send(
                text or "", embed=embed, ephemeral=True, allowed_mentions=none
            )
    elif embed is None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
    else:
        await interaction.response.send_message(
            text, embed=embed, ephemeral=True, allowed_mentions=none
        )


async def require_manage_guild(interaction: discord.Interaction[DigestBot]) -> bool:
    """Checked again at run time: server admins can change who sees the command."""
    if interaction.guild is None:
        await reply(interaction, "This command only works in a server.")
        return False
    if not interaction.permissions.manage_guild:
        await reply(interaction, "You need the **Manage Server** permission to do that.")
        return False
    return True


def missing_channel_permissions(
    channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member
) -> list[str]:
    permissions = channel.permissions_for(me)
    return [name for attr, name in REQUIRED_CHANNEL_PERMISSIONS if not getattr(permissions, attr)]
