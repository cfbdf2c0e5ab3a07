"""Discord permission bits and the permission algorithm Discord applies.

The algorithm follows Discord's documentation ("Permission Hierarchy"): the
guild owner and holders of Administrator get everything; otherwise the
@everyone role, then the member's roles, then the channel overwrites for
@everyone, for the member's roles (all denies before all allows) and for the
member, in that order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_AUDIT_LOG = 1 << 7
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38

ALL_PERMISSIONS = (1 << 53) - 1
#: Every channel-level permission (discord.Permissions.all_channel() in discord.py 2.7).
ALL_CHANNEL = 0x1E64FDB3F7FF51

#: What @everyone gets in a new guild (a realistic subset of Discord's default).
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)

#: Exactly what README.md's invite link asks for (permission integer 84992): the bot's managed
#: role gets this and nothing more, so a test cannot pass on a permission the README does not
#: ask the admin to grant.
DEFAULT_BOT = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY

ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1


@dataclass
class Overwrite:
    """One channel permission overwrite (type 0 = role, 1 = member)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    @classmethod
    def role(cls, role_id: int, *, allow: int = 0, deny: int = 0) -> Overwrite:
        return cls(role_id, ROLE_OVERWRITE, allow, deny)

    @classmethod
    def member(cls, user_id: int, *, allow: int = 0, deny: int = 0) -> Overwrite:
        return cls(user_id, MEMBER_OVERWRITE, allow, deny)

    def to_payload(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


def base_permissions(
    *,
    guild_id: int,
    owner_id: int,
    user_id: int,
    role_permissions: dict[int, int],
    member_roles: Iterable[int],
) -> int:
    """Guild-level permissions of a member (before channel overwrites)."""
    if user_id == owner_id:
        return ALL_PERMISSIONS
    perms = role_permissions.get(guild_id, 0)
    for role_id in member_roles:
        perms |= role_permissions.get(role_id, 0)
    if perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def channel_permissions(
    base: int,
    *,
    guild_id: int,
    user_id: int,
    member_roles: Iterable[int],
    overwrites: Iterable[Overwrite],
) -> int:
    """Apply a channel's overwrites to `base` the way Discord does."""
    if base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    roles = set(member_roles)
    by_key = {(o.type, o.id): o for o in overwrites}
    perms = base
    everyone = by_key.get((ROLE_OVERWRITE, guild_id))
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in roles:
        o = by_key.get((ROLE_OVERWRITE, role_id))
        if o is not None:
            allow |= o.allow
            deny |= o.deny
    perms = (perms & ~deny) | allow
    member = by_key.get((MEMBER_OVERWRITE, user_id))
    if member is not None:
        perms = (perms & ~member.deny) | member.allow
    if not perms & SEND_MESSAGES:
        # Discord's implicit permissions: no sending means none of these either.
        perms &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
    if not perms & VIEW_CHANNEL:
        return perms & ~ALL_CHANNEL
    return perms
