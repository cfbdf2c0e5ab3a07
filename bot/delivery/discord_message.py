"""The Discord adapter: a `Message` becomes the keyword arguments of discord.py's send calls.

The one place a Message meets discord.py objects. Allowed mentions are always explicit: none,
or exactly the role the Message names.
"""

from __future__ import annotations

import io
from typing import Any

import discord

from bot.model import Embed, Message


def to_embed(embed: Embed) -> discord.Embed:
    result = discord.Embed(
        title=embed.title,
        url=embed.url,
        description=embed.description,
        colour=discord.Colour(embed.colour),
        timestamp=embed.timestamp,
    )
    if embed.author:
        result.set_author(name=embed.author, url=embed.author_url)
    if embed.footer:
        result.set_footer(text=embed.footer)
    if embed.image_url:
        result.set_image(url=embed.image_url)
    for field in embed.fields:
        result.add_field(name=field.name, value=field.value, inline=field.inline)
    return result


def allowed_mentions(message: Message) -> discord.AllowedMentions:
    allowed = discord.AllowedMentions.none()
    if message.mention_role_id is not None:
        allowed.roles = [discord.Object(id=message.mention_role_id)]
    return allowed


def to_view(message: Message) -> discord.ui.View | None:
    """Buttons as a finished view: discord.py does not keep it per message, so clicks on
    `custom_id` buttons reach the DynamicItem a cog registered (they work after a restart)."""
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in message.buttons:  # a url makes a link button; the default style otherwise
        view.add_item(
            discord.ui.Button(label=button.label, url=button.url, custom_id=button.custom_id)
        )
    view.stop()
    return view


def send_kwargs(message: Message) -> dict[str, Any]:
    """`content`, `embeds`, `view`, `files` and `allowed_mentions` for Messageable.send,
    Interaction.response.send_message and followup.send alike (absent parts left out)."""
    kwargs: dict[str, Any] = {"allowed_mentions": allowed_mentions(message)}
    if message.content is not None:
        kwargs["content"] = message.content
    if message.embeds:
        kwargs["embeds"] = [to_embed(embed) for embed in message.embeds]
    view = to_view(message)
    if view is not None:
        kwargs["view"] = view
    if message.files:
        kwargs["files"] = [
            discord.File(io.BytesIO(file.data), filename=file.filename) for file in message.files
        ]
    return kwargs


async def answer(interaction: discord.Interaction[Any], message: Message) -> None:
    """Answer an interaction ephemerally with `message`, whether or not it was deferred."""
    kwargs = send_kwargs(message)
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=True, **kwargs)
