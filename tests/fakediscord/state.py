"""The fake's world: users, guilds, roles, members, channels, messages, commands.

Plain dataclasses plus :class:`FakeState`, which builds them, serializes them
the way Discord's API does, and answers permission questions. Nothing here does
I/O; the REST and gateway layers read and change this state.
"""

from __future__ import annotations

import datetime
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import permissions as P
from .permissions import Overwrite

DISCORD_EPOCH_MS = 1420070400000

TEXT = 0
DM = 1
VOICE = 2
CATEGORY = 4
NEWS = 5
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
FORUM = 15
THREADS = (PUBLIC_THREAD, PRIVATE_THREAD)

#: Message flag Discord sets on a message a thread was started from.
HAS_THREAD = 1 << 5

EPHEMERAL = 1 << 6
LOADING = 1 << 7


class FakeClock:
    """Monotonic and wall time with an offset tests can advance (nonce windows, buckets)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def wall(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


class SnowflakeFactory:
    """Increasing snowflakes whose timestamp part is the fake clock's wall time."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._last = 0
        self._counter = itertools.count()

    def __call__(self) -> int:
        ms = int(self._clock.wall() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (next(self._counter) & 0xFFF)
        self._last = max(candidate, self._last + 1)
        return self._last

    def on_shard(self, shard_id: int, shard_count: int) -> int:
        """The next snowflake whose guild shard ``(id >> 22) % shard_count`` is ``shard_id``
        (its timestamp moved at most ``shard_count - 1`` ms ahead)."""
        ms = self() >> 22
        ms += (shard_id - ms) % shard_count
        self._last = ms << 22
        return self._last


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    dms_open: bool = True
    global_name: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class FakeChannel:
    id: int
    type: int
    name: str
    guild_id: int | None = None
    position: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    topic: str | None = None
    parent_id: int | None = None
    recipient_id: int | None = None
    last_message_id: int | None = None
    # Forums: the tags a post may carry ({id, name, moderated, emoji_id, emoji_name}).
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    # Threads (type 11/12; a forum post is one): who started it, its tags, when, archived.
    owner_id: int | None = None
    applied_tags: list[int] = field(default_factory=list)
    created_at: float = 0.0
    archived: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in THREADS

    def payload(self, state: FakeState) -> dict[str, Any]:
        if self.type == DM:
            recipient = state.users[self.recipient_id] if self.recipient_id else None
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": _opt_str(self.last_message_id),
                "recipients": [recipient.payload()] if recipient else [],
                "flags": 0,
            }
        if self.is_thread:
            return self._thread_payload(state)
        data = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": _opt_str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.to_payload() for o in self.overwrites],
            "parent_id": _opt_str(self.parent_id),
            "topic": self.topic,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": _opt_str(self.last_message_id),
            "flags": 0,
        }
        if self.type == FORUM:
            data["available_tags"] = [dict(tag) for tag in self.available_tags]
            data["default_reaction_emoji"] = None
            data["default_thread_rate_limit_per_user"] = 0
            data["default_sort_order"] = None
            data["default_forum_layout"] = 0
        return data

    def _thread_payload(self, state: FakeState) -> dict[str, Any]:
        messages = state.visible_messages(self.id)
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": _opt_str(self.guild_id),
            "parent_id": _opt_str(self.parent_id),
            "owner_id": _opt_str(self.owner_id),
            "name": self.name,
            "last_message_id": _opt_str(self.last_message_id),
            "rate_limit_per_user": 0,
            "message_count": len(messages),
            "total_message_sent": len(messages),
            "member_count": 1,
            "applied_tags": [str(t) for t in self.applied_tags],
            "thread_metadata": {
                "archived": self.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(self.created_at),
                "locked": False,
                "create_timestamp": iso(self.created_at),
            },
            "flags": 0,
        }


@dataclass
class FakeMember:
    guild_id: int
    user_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = 0.0


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    system_channel_id: int | None = None
    channel_ids: list[int] = field(default_factory=list)
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    preferred_locale: str = "en-US"


@dataclass
class Attachment:
    id: int
    filename: str
    size: int
    content_type: str | None
    data: bytes

    def payload(self) -> dict[str, Any]:
        url = f"https://cdn.discordapp.invalid/attachments/{self.id}/{self.filename}"
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        return data


@dataclass(frozen=True)
class Pinged:
    """Who a message actually pinged, given its content, allowed_mentions and permissions."""

    everyone: bool = False
    roles: tuple[int, ...] = ()
    users: tuple[int, ...] = ()

    @property
    def anyone(self) -> bool:
        return self.everyone or bool(self.roles) or bool(self.users)

    def as_dict(self) -> dict[str, Any]:
        return {"everyone": self.everyone, "roles": list(self.roles), "users": list(self.users)}


@dataclass
class StoredMessage:
    """A message as the fake stored it (channel posts, DMs and interaction responses)."""

    id: int
    channel_id: int
    author_id: int
    guild_id: int | None = None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    nonce: str | int | None = None
    allowed_mentions: dict[str, Any] | None = None
    pinged: Pinged = field(default_factory=Pinged)
    attachments: list[Attachment] = field(default_factory=list)
    created_at: float = 0.0
    created_mono: float = 0.0
    edited_at: float | None = None
    deleted: bool = False
    tts: bool = False
    interaction_id: int | None = None
    webhook_id: int | None = None
    message_reference: dict[str, Any] | None = None
    edits: int = 0
    thread_id: int | None = None  # a thread started from this message
    # A channel webhook's execute: the name and avatar the message shows (None: not one).
    webhook_username: str | None = None
    webhook_avatar_url: str | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    def _author(self, author: FakeUser) -> dict[str, Any]:
        data = author.payload()
        if self.webhook_username is not None:
            data["username"] = self.webhook_username
        return data

    def payload(self, state: FakeState, *, with_nonce: bool = True) -> dict[str, Any]:
        author = state.users[self.author_id]
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 0 if self.interaction_id is None else 20,
            "channel_id": str(self.channel_id),
            "author": self._author(author),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": None if self.edited_at is None else iso(self.edited_at),
            "tts": self.tts,
            "mention_everyone": self.pinged.everyone,
            "mentions": [state.users[u].payload() for u in self.pinged.users if u in state.users],
            "mention_roles": [str(r) for r in self.pinged.roles],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "flags": self.flags | (HAS_THREAD if self.thread_id is not None else 0),
        }
        if self.thread_id is not None and self.thread_id in state.channels:
            data["thread"] = state.channels[self.thread_id].payload(state)
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.nonce is not None and with_nonce:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        return data


@dataclass
class StandardGuild:
    """Ids of the ready-made guild built by :meth:`FakeState.add_standard_guild`."""

    guild_id: int
    everyone_role_id: int
    bot_role_id: int
    admin_role_id: int
    owner_id: int
    admin_id: int
    member_id: int
    closed_dms_id: int
    general_id: int
    news_id: int
    no_view_id: int
    no_send_id: int
    no_embed_id: int
    no_history_id: int
    members_role_id: int


class FakeState:
    """All objects the fake knows about, with builders and Discord-shaped serializers."""

    def __init__(
        self,
        clock: FakeClock | None = None,
        *,
        bot_name: str = "digestbot",
        token: str = "fake-bot-token",
    ) -> None:
        self.clock = clock or FakeClock()
        self.snowflake = SnowflakeFactory(self.clock)
        self.token = token
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, list[StoredMessage]] = {}
        self.message_index: dict[int, StoredMessage] = {}
        self.nonces: dict[tuple[int, str], tuple[float, StoredMessage]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.bot = self.add_user(bot_name, bot=True)
        self.application_id = self.bot.id
        self.application_flags = 0

    # ---- builders -------------------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False, dms_open: bool = True) -> FakeUser:
        user = FakeUser(self.snowflake(), username, bot=bot, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner_id: int | None = None,
        everyone_permissions: int = P.DEFAULT_EVERYONE,
        bot_permissions: int = P.DEFAULT_BOT,
        system_channel_name: str | None = "general",
        bot_member: bool = True,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild with @everyone, the bot's managed role and member, and a system channel;
        ``shard=(id, count)`` picks an id on that gateway shard."""
        if owner_id is None:
            owner_id = self.add_user(f"{name}-owner").id
        guild_id = self.snowflake() if shard is None else self.snowflake.on_shard(*shard)
        guild = FakeGuild(guild_id, name, owner_id)
        self.guilds[guild.id] = guild
        guild.roles[guild.id] = FakeRole(guild.id, guild.id, "@everyone", everyone_permissions)
        self.add_member(guild.id, owner_id)
        if bot_member:
            role = self.add_role(
                guild.id, self.bot.username, bot_permissions, managed=True, bot_id=self.bot.id
            )
            self.add_member(guild.id, self.bot.id, roles=[role.id])
        if system_channel_name is not None:
            guild.system_channel_id = self.add_text_channel(guild.id, system_channel_name).id
        return guild

    def add_role(
        self,
        guild_id: int,
        name: str,
        permissions: int = 0,
        *,
        mentionable: bool = False,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> FakeRole:
        guild = self.guilds[guild_id]
        role = FakeRole(
            self.snowflake(),
            guild_id,
            name,
            permissions,
            position=len(guild.roles),
            mentionable=mentionable,
            managed=managed,
            bot_id=bot_id,
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild_id: int, user_id: int, *, roles: list[int] | None = None
    ) -> FakeMember:
        member = FakeMember(guild_id, user_id, list(roles or []), joined_at=self.clock.wall())
        self.guilds[guild_id].members[user_id] = member
        return member

    def add_text_channel(
        self,
        guild_id: int,
        name: str,
        *,
        overwrites: list[Overwrite] | None = None,
        topic: str | None = None,
        type: int = TEXT,
    ) -> FakeChannel:
        guild = self.guilds[guild_id]
        channel = FakeChannel(
            self.snowflake(),
            type,
            name,
            guild_id=guild_id,
            position=len(guild.channel_ids),
            overwrites=list(overwrites or []),
            topic=topic,
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        guild.channel_ids.append(channel.id)
        return channel

    def add_forum_channel(
        self,
        guild_id: int,
        name: str,
        *,
        tags: Sequence[str] = (),
        overwrites: list[Overwrite] | None = None,
    ) -> FakeChannel:
        """A forum (type 15) with one available tag per name in `tags`."""
        forum = self.add_text_channel(guild_id, name, overwrites=overwrites, type=FORUM)
        forum.available_tags = [
            {
                "id": str(self.snowflake()),
                "name": tag,
                "moderated": False,
                "emoji_id": None,
                "emoji_name": None,
            }
            for tag in tags
        ]
        return forum

    def add_thread(
        self,
        parent_id: int,
        name: str,
        *,
        owner_id: int | None = None,
        thread_id: int | None = None,
        applied_tags: list[int] | None = None,
        type: int = PUBLIC_THREAD,
    ) -> FakeChannel:
        """A thread under `parent_id` (not in the guild's channel list: GUILD_CREATE carries it
        among `threads` while it is active). `thread_id`: a thread started from that message."""
        parent = self.channels[parent_id]
        thread = FakeChannel(
            thread_id if thread_id is not None else self.snowflake(),
            type,
            name,
            guild_id=parent.guild_id,
            parent_id=parent_id,
            owner_id=owner_id if owner_id is not None else self.bot.id,
            applied_tags=list(applied_tags or []),
            created_at=self.clock.wall(),
        )
        self.channels[thread.id] = thread
        self.messages[thread.id] = []
        return thread

    def active_threads(self, guild_id: int) -> list[FakeChannel]:
        return [
            c
            for c in self.channels.values()
            if c.is_thread and c.guild_id == guild_id and not c.archived
        ]

    def dm_channel_for(self, user_id: int) -> FakeChannel:
        for channel in self.channels.values():
            if channel.type == DM and channel.recipient_id == user_id:
                return channel
        channel = FakeChannel(self.snowflake(), DM, "", recipient_id=user_id)
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def add_standard_guild(
        self, name: str = "Test Guild", *, shard: tuple[int, int] | None = None
    ) -> StandardGuild:
        """A ready-made guild most e2e tests need.

        Permissions: @everyone has none; people get theirs from a "Members" role (Discord's
        usual member permissions), so the bot has exactly its managed role's
        :data:`~tests.fakediscord.permissions.DEFAULT_BOT` (what README.md asks for) and
        nothing it was not invited with.
        Users: owner, ``admin`` (roles Members and "Admins" with Manage Server), ``member``
        (Members only), ``closed-dms`` (a member whose DMs are closed). Channels: #general (the
        system channel), #news (the bot may post), #no-view (bot lacks View Channel),
        #no-send (bot lacks Send Messages), #no-embed (bot lacks Embed Links), #no-history
        (bot lacks Read Message History).
        """
        owner = self.add_user("owner")
        guild = self.add_guild(name, owner_id=owner.id, everyone_permissions=0, shard=shard)
        bot_role = next(r for r in guild.roles.values() if r.bot_id == self.bot.id)
        members_role = self.add_role(guild.id, "Members", P.DEFAULT_EVERYONE)
        admin_role = self.add_role(guild.id, "Admins", P.MANAGE_GUILD)
        admin = self.add_user("admin")
        member = self.add_user("member")
        closed = self.add_user("closed-dms", dms_open=False)
        self.add_member(guild.id, admin.id, roles=[members_role.id, admin_role.id])
        self.add_member(guild.id, member.id, roles=[members_role.id])
        self.add_member(guild.id, closed.id, roles=[members_role.id])
        news = self.add_text_channel(guild.id, "news")

        def denied(channel: str, bit: int) -> int:
            overwrite = Overwrite.role(bot_role.id, deny=bit)
            return self.add_text_channel(guild.id, channel, overwrites=[overwrite]).id

        no_view = denied("no-view", P.VIEW_CHANNEL)
        no_send = denied("no-send", P.SEND_MESSAGES)
        no_embed = denied("no-embed", P.EMBED_LINKS)
        no_history = denied("no-history", P.READ_MESSAGE_HISTORY)
        assert guild.system_channel_id is not None
        return StandardGuild(
            guild_id=guild.id,
            everyone_role_id=guild.id,
            bot_role_id=bot_role.id,
            admin_role_id=admin_role.id,
            owner_id=owner.id,
            admin_id=admin.id,
            member_id=member.id,
            closed_dms_id=closed.id,
            general_id=guild.system_channel_id,
            news_id=news.id,
            no_view_id=no_view,
            no_send_id=no_send,
            no_embed_id=no_embed,
            no_history_id=no_history,
            members_role_id=members_role.id,
        )

    # ---- questions ------------------------------------------------------------------------

    def permissions_in(self, channel_id: int, user_id: int) -> int:
        """The member's effective permissions in a guild channel (all for DMs); a thread has
        its parent's (Discord: threads inherit the parent's overwrites)."""
        channel = self.channels[channel_id]
        if channel.is_thread and channel.parent_id in self.channels:
            channel = self.channels[channel.parent_id]
        if channel.guild_id is None:
            return P.ALL_PERMISSIONS & ~P.ADMINISTRATOR
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        base = self.guild_permissions(guild.id, user_id)
        return P.channel_permissions(
            base,
            guild_id=guild.id,
            user_id=user_id,
            member_roles=member.roles,
            overwrites=channel.overwrites,
        )

    def guild_permissions(self, guild_id: int, user_id: int) -> int:
        guild = self.guilds[guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        return P.base_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            user_id=user_id,
            role_permissions={r.id: r.permissions for r in guild.roles.values()},
            member_roles=member.roles,
        )

    def bot_role(self, guild_id: int) -> FakeRole:
        return next(r for r in self.guilds[guild_id].roles.values() if r.bot_id == self.bot.id)

    def visible_messages(self, channel_id: int) -> list[StoredMessage]:
        return [m for m in self.messages.get(channel_id, []) if not m.deleted]

    # ---- serializers ----------------------------------------------------------------------

    def member_payload(
        self, guild_id: int, user_id: int, *, permissions: int | None = None
    ) -> dict[str, Any]:
        member = self.guilds[guild_id].members[user_id]
        data: dict[str, Any] = {
            "user": self.users[user_id].payload(),
            "roles": [str(r) for r in member.roles],
            "nick": member.nick,
            "avatar": None,
            "joined_at": iso(member.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def guild_payload(self, guild_id: int, *, all_members: bool = False) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        members = [
            self.member_payload(guild.id, uid)
            for uid in guild.members
            if all_members or uid == self.bot.id
        ]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": _opt_str(guild.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.preferred_locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
            "joined_at": iso(guild.members[self.bot.id].joined_at)
            if self.bot.id in guild.members
            else None,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "voice_states": [],
            "members": members,
            "channels": [self.channels[c].payload(self) for c in guild.channel_ids],
            "threads": [t.payload(self) for t in self.active_threads(guild.id)],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def bot_guild_ids(self) -> list[int]:
        return [g.id for g in self.guilds.values() if self.bot.id in g.members]


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)
