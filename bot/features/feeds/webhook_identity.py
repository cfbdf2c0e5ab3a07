"""`/feed identity`: a channel's posts of a feed go out as the bot (the default) or as the feed
itself (mode webhook: the channel's webhook, with the admin's name and avatar, else the feed's
title). A name Discord would refuse (containing "discord" or "clyde", too long, empty) is kept
as typed and shown as the safe variant posts will carry (bot.features.posts.identity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.features.search.service import SearchInputError
from bot.i18n import _
from bot.model import GuildFeed, Identity, Message
from bot.safe import safe_url, shown

IdentityMode = Literal["bot", "webhook"]
MAX_NAME_CHARS = 200  # kept as typed (posts carry the ≤ 80-character variant)


@dataclass(frozen=True, slots=True)
class IdentityChange:
    feed: GuildFeed
    setting: Identity | None  # None: posts go out as the bot
    shown_as: Identity | None  # the name and avatar posts will carry


def identity_setting(mode: IdentityMode, name: str | None, avatar: str | None) -> Identity | None:
    """The setting to keep (None: posts go out as the bot); SearchInputError: an option cannot
    be used."""
    if mode == "bot":
        if name or avatar:
            raise SearchInputError(
                _("`name` and `avatar` only apply with `mode: webhook`; leave them out.")
            )
        return None
    avatar_url = safe_url(avatar.strip()) if avatar else None
    if avatar and avatar_url is None:
        raise SearchInputError(_("`avatar` must be an image's address, starting with https://"))
    return Identity((name or "").strip()[:MAX_NAME_CHARS] or None, avatar_url)


def render_identity(change: IdentityChange, *, channel: str) -> Message:
    names = {"title": f"**{shown(change.feed.title or change.feed.url)}**", "channel": channel}
    if change.shown_as is None or change.setting is None:
        return Message(content=_("Posts of {title} in {channel} come from me again.", **names))
    lines = [
        _(
            "Posts of {title} in {channel} will come from **{name}** through this channel's "
            "webhook (I make it on the next post).",
            name=shown(change.shown_as.name or ""),
            **names,
        )
    ]
    if change.setting.name and change.setting.name.strip() != change.shown_as.name:
        lines.append(
            _("Discord does not accept that name as typed, so posts carry this variant instead.")
        )
    if change.setting.avatar_url:
        lines.append(_("With the avatar you gave."))
    elif change.shown_as.avatar_url:
        lines.append(_("With the feed's own image as avatar."))
    else:
        lines.append(_("The feed has no image, so posts show Discord's default avatar."))
    return Message(content="\n".join(lines))


def render_needs_manage_webhooks(channel: str) -> Message:
    return Message(
        content=_(
            "To post as the feed in {channel} I need **{permission}** there. Grant it to my "
            "role (Channel settings → Permissions), then run this again. Nothing was changed.",
            channel=channel,
            permission=_("Manage Webhooks"),
        )
    )
