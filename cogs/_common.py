"""What every cog shares: the server (and admin) check, polite ephemeral answers, choices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.discord_message import send_kwargs
from bot.discord_locale import member_locale
from bot.features.digest.service import NotSubscribedError
from bot.features.feeds.filters import FilterError
from bot.features.feeds.render import render_filter_refused, render_not_posted_in
from bot.features.feeds.subscription_filter import ChannelNotFollowingError
from bot.features.feeds.threads import ForumTag
from bot.features.posts.format import TemplateError
from bot.features.search.service import SearchInputError
from bot.i18n import N_, _, set_locale
from bot.model import Message
from bot.safe import one_line, strip_control

if TYPE_CHECKING:
    from bot.app import DigestBot

Interaction = discord.Interaction["DigestBot"]
T = TypeVar("T")
# Where posts may go: a text channel, a forum (a post per item) or a thread.
PostTarget = discord.TextChannel | discord.ForumChannel | discord.Thread

# What README.md's invite asks for. Read Message History lets the bot check, after a crash or
# a lost answer, whether a post already went through (bot.delivery.discord_sender.DiscordSender).
# The names are Discord's own, as its settings show them in each language.
REQUIRED_CHANNEL_PERMISSIONS = (
    ("view_channel", N_("View Channel")),
    ("send_messages", N_("Send Messages")),
    ("embed_links", N_("Embed Links")),
    ("read_message_history", N_("Read Message History")),
)
CHOICE_LIMIT = 100  # Discord's limit on an autocomplete choice's or a select option's text


class GuildCog(commands.Cog):
    """A cog whose commands work in a server only and, with `manage_guild`, only for members
    with Manage Server: checked again at run time, as server admins can change who sees a
    command. A refused member gets the reason as the answer (the tree stays silent on it)."""

    manage_guild = False

    def not_in_server(self) -> Message | str:
        """What a command used outside a server answers (in the member's language)."""
        return _("This command only works in a server.")

    def __init__(self, bot: DigestBot) -> None:
        self.runtime = bot.runtime

    async def interaction_check(self, interaction: Interaction, /) -> bool:  # type: ignore[override]
        if interaction.guild is None:
            await reply(interaction, self.not_in_server())
            return False
        if self.manage_guild and not interaction.permissions.manage_guild:
            await reply(interaction, _("You need the **Manage Server** permission to do that."))
            return False
        return True


class MemberView(discord.ui.View):
    """A view whose answers (and the labels it relabels) speak the clicking member's
    language: a button's callback runs in its own task, outside the command's locale.
    Subclasses check who may click in `member_check`."""

    async def interaction_check(self, interaction: Interaction, /) -> bool:  # type: ignore[override]
        set_locale(member_locale(interaction))
        return await self.member_check(interaction)

    async def member_check(self, interaction: Interaction, /) -> bool:
        return True


def guild_of(interaction: Interaction) -> discord.Guild:
    """The interaction's server (GuildCog.interaction_check has made sure there is one)."""
    assert interaction.guild is not None
    return interaction.guild


async def reply(
    interaction: Interaction, message: Message | str, view: discord.ui.View | None = None
) -> None:
    """An ephemeral answer (a `str`: text of our own), deferred or not, with `view` if given.
    Pings only what the Message allows (answers never name a role to ping)."""
    kwargs = send_kwargs(Message(content=message) if isinstance(message, str) else message)
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=True, **kwargs)


async def settle(
    interaction: Interaction,
    work: Awaitable[T],
    answer: Callable[[T], Message],
    where: str | None = None,
) -> None:
    """Reply with `answer` of the service's `work`, or with what it refused, said alike by every
    command: a feed not this server's, an unusable filter or template, a channel (`where`,
    default "that channel") that does not post the feed."""
    try:
        result = await work
    except (SearchInputError, TemplateError) as refused:
        await reply(interaction, refused.message)
    except FilterError as refused:
        await reply(interaction, render_filter_refused(refused.message))
    except (NotSubscribedError, ChannelNotFollowingError):
        await reply(interaction, render_not_posted_in(where or _("that channel")))
    else:
        await reply(interaction, answer(result))


def choice_label(text: str) -> str:
    """Text for an autocomplete choice or select option (Discord shows it as plain text)."""
    cleaned = one_line(strip_control(text))
    return cleaned if len(cleaned) <= CHOICE_LIMIT else cleaned[: CHOICE_LIMIT - 1] + "…"


async def guild_feed_choices(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for a `feed` option: at most 25 of this guild's feeds, never another's."""
    if interaction.guild is None:
        return []
    feeds = await interaction.client.runtime.search.feed_choices(interaction.guild.id, current)
    return [
        app_commands.Choice(
            name=choice_label(feed.title)
            or choice_label(feed.url)
            or _("feed {number}", number=feed.feed_id),
            value=str(feed.feed_id),
        )
        for feed in feeds
    ]


async def archive_item_choices(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for an `item` option (`/why`, `/related`): items of this guild's archive."""
    if interaction.guild is None:
        return []
    items = await interaction.client.runtime.why.item_choices(interaction.guild.id, current)
    return [
        app_commands.Choice(
            name=choice_label(i.title) or _("item {number}", number=i.id), value=f"item:{i.id}"
        )
        for i in items
    ]


def forum_tags(forum: discord.ForumChannel) -> list[ForumTag]:
    return [ForumTag(tag.id, tag.name) for tag in forum.available_tags]


async def forum_tag_choices(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for a `tag` option: the tags of the forum picked as `channel`."""
    picked = getattr(interaction.namespace, "channel", None)
    forum = interaction.client.get_channel(picked.id) if picked is not None else None
    if not isinstance(forum, discord.ForumChannel):
        return []
    typed = current.casefold()
    return [
        app_commands.Choice(name=choice_label(tag.name), value=str(tag.id))
        for tag in forum_tags(forum)
        if typed in tag.name.casefold()
    ][:25]


async def postable_channel(
    interaction: Interaction,
    channel: PostTarget | None,
) -> PostTarget | None:
    """The channel to post in (the chosen one, else this one) if the bot can post there;
    otherwise answer with what is missing and return None. A forum takes posts (Discord
    checks Send Messages there, shown as Create Posts); a thread needs Send Messages in
    Threads instead of Send Messages."""
    target = channel or interaction.channel
    if not isinstance(target, PostTarget):
        await reply(interaction, _("Pick a text channel for the posts with the `channel` option."))
        return None
    me = guild_of(interaction).me
    permissions = target.permissions_for(me) if me is not None else discord.Permissions.all()
    required = list(REQUIRED_CHANNEL_PERMISSIONS)
    if isinstance(target, discord.Thread):
        required[1] = ("send_messages_in_threads", N_("Send Messages in Threads"))
    elif isinstance(target, discord.ForumChannel):
        required[1] = ("send_messages", N_("Create Posts"))
    missing = [_(name) for attr, name in required if not getattr(permissions, attr)]
    if missing:
        # TRANSLATORS: between the items of a list ("a, b, c").
        separator = _(", ")
        await reply(
            interaction,
            _(
                "I can't post in {channel}: I am missing **{permissions}** there. Give my "
                "role those permissions in that channel, then try again.",
                channel=target.mention,
                permissions=separator.join(missing),
            ),
        )
        return None
    return target
