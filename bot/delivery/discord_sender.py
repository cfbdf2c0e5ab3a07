"""Sends rendered Messages through a discord.py client, exactly once (see DiscordSender).

Each send carries a nonce, so Discord itself drops a quick resend; it keeps nonces only for a
few minutes, so later a send that may have gone through is looked for among our messages in the
target's history since the delivery was queued (by nonce, else by its text and embeds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import discord

from bot.delivery.discord_channels import ChannelLookup
from bot.delivery.discord_message import send_kwargs
from bot.delivery.discord_threads import create_forum_post, find_forum_post, open_thread_on
from bot.delivery.senders import PermanentSendError, RetryableSendError
from bot.model import DeliveryRow, Embed, Message
from bot.store.topics import TopicStore

if TYPE_CHECKING:
    from bot.delivery.discord_webhooks import WebhookPoster

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord JSON error codes that mean "this target cannot be reached", in words.
UNKNOWN_MESSAGE = 10008
REASONS: dict[int, str] = {
    50001: "Missing Access: I cannot see that channel",
    50013: "Missing Permissions: I need View Channel, Send Messages and Embed Links there",
    10003: "Unknown Channel: the channel no longer exists",
    10013: "Unknown User: the member's account no longer exists",
    50007: "Cannot send messages to this user: their DMs are closed",
}


def permanent_error_for(error: discord.HTTPException) -> PermanentSendError:
    """A 4xx from Discord in words; 403 and 404 mean the target cannot be reached."""
    code, status = error.code, error.status
    if code in REASONS:
        reason = REASONS[code]
    elif status == 403:
        reason = f"Forbidden (Discord code {code})"
    elif status == 404:
        reason = f"Not Found (Discord code {code})"
    else:
        reason = f"Discord refused the message: {status} {(error.text or '')[:200]}".strip()
    unreachable = status in (403, 404) and code != UNKNOWN_MESSAGE
    return PermanentSendError(reason, target_unreachable=unreachable)


async def call_discord(request: Callable[[], Awaitable[T]]) -> T:
    """Run one Discord request, turning its failures into the two send errors."""
    try:
        return await request()
    except discord.RateLimited as error:
        raise RetryableSendError(
            "rate limited", retry_after=error.retry_after, maybe_sent=False
        ) from error
    except discord.DiscordServerError as error:
        raise RetryableSendError(f"Discord server error {error.status}") from error
    except discord.HTTPException as error:  # 403 and 404 among them
        if error.status == 429:
            raise RetryableSendError("rate limited (429)", maybe_sent=False) from error
        if error.status >= 500 or error.status == 0:
            raise RetryableSendError(f"Discord error {error.status}") from error
        raise permanent_error_for(error) from error
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise RetryableSendError(f"connection problem: {type(error).__name__}") from error


#: How long after sending a nonce this process relies on Discord's de-duplication ("the past
#: few minutes" in Discord's docs) to drop a resend it cannot check in the channel's history.
NONCE_TRUST_S = 60.0
#: How many of a target's newest messages are searched for one an earlier attempt sent.
HISTORY_LIMIT = 100
#: How many forum posts this process remembers for deliveries of several messages.
FORUM_POSTS_REMEMBERED = 1024

HISTORY_UNREADABLE = (
    "not sent again: an earlier attempt may already be in the channel and I cannot check "
    "without Read Message History there (grant it to my role, as the README's invite does)"
)


def fingerprint(content: str | None, embeds: Sequence[Embed | discord.Embed]) -> tuple[object, ...]:
    """What identifies one of our messages in a channel: its text and its embeds' texts
    (several messages of one digest differ in these, even when they list the same feed)."""
    return (
        (content or "").strip(),
        tuple((e.title or None, (e.description or None), e.url or None) for e in embeds),
    )


class DiscordSender:
    """The Sender for a discord.py client: on the gateway, or (`gateway=False`, a worker) over
    REST only, learning channels and permissions from Discord (bot.delivery.discord_channels).

    Without Read Message History Discord answers a history request with an empty list, not an
    error, which would read as "not posted" and resend. So the permission is checked first
    (`_should_look`):

    - readable (or a DM): look in the history;
    - unreadable, and this process sent the same nonce less than `NONCE_TRUST_S` ago: send
      again; Discord returns the message it already has instead of posting twice;
    - unreadable otherwise (a restart, an outage, a long backoff): the delivery fails with
      `HISTORY_UNREADABLE` (logged, in its last_error) rather than being sent again: a
      duplicate in a community channel is seen by everyone and cannot be taken back.
      `digestbot doctor` names the missing permission; the README's invite grants it.
    """

    def __init__(
        self,
        client: discord.Client,
        *,
        dm_channels: TopicStore | None = None,  # DM channel ids kept across restarts
        webhooks: WebhookPoster | None = None,
        gateway: bool = True,
    ):
        self._client = client
        self._channels = ChannelLookup(client, gateway=gateway)
        self._book = dm_channels
        self._webhooks = webhooks  # posts a Message with an identity (None: as the bot)
        self._dm_channels: dict[int, int] = {}  # user id → DM channel id, this process
        self._sent_at: dict[str, float] = {}  # nonce → when this process last sent it
        # delivery id → the forum post its first message opened (the rest go inside it).
        self._forum_posts: dict[int, int] = {}

    async def _destination(
        self, delivery: DeliveryRow, post: int | None = None
    ) -> discord.PartialMessageable:
        """Where the delivery's messages go: inside its forum `post`, its channel, or the DM."""
        if post is not None or delivery.target_kind == "channel":
            channel_id = post if post is not None else delivery.target_id
            return self._client.get_partial_messageable(channel_id, guild_id=delivery.guild_id)
        return await self._dm_channel(delivery.target_id)

    async def _dm_channel(self, user_id: int) -> discord.PartialMessageable:
        """The member's DM channel: remembered in this process, else in the book, else
        opened (and remembered in both)."""
        dm_id = self._dm_channels.get(user_id)
        if dm_id is None and self._book is not None:
            dm_id = await self._book.dm_channel_of(user_id)
        if dm_id is None:
            user = self._client.get_user(user_id)
            if user is None:
                user = await call_discord(lambda: self._client.fetch_user(user_id))
            channel = await call_discord(user.create_dm)
            dm_id = channel.id
            if self._book is not None:
                await self._book.set_dm_channel(user_id, dm_id)
        self._dm_channels[user_id] = dm_id
        return self._client.get_partial_messageable(dm_id, type=discord.ChannelType.private)

    def _poster(
        self, delivery: DeliveryRow, message: Message, forum: discord.ForumChannel | None
    ) -> WebhookPoster | None:
        """The webhook poster when this message goes out under its own name and avatar."""
        if message.identity is None or delivery.target_kind != "channel" or forum is not None:
            return None
        return self._webhooks

    async def send(self, delivery: DeliveryRow, message: Message, *, nonce: str) -> int:
        forum, post = await self._forum(delivery)
        if forum is not None and post is None:
            # A new forum post: no nonce (Discord takes none there); find_existing finds it.
            post_id = await call_discord(lambda: create_forum_post(forum, delivery, message))
            self._forum_posts[delivery.id] = post_id
            while len(self._forum_posts) > FORUM_POSTS_REMEMBERED:
                del self._forum_posts[next(iter(self._forum_posts))]
            return post_id
        kwargs = send_kwargs(message)
        poster = self._poster(delivery, message, forum)
        if poster is not None and message.identity is not None:
            # No nonce: Discord cannot drop a repeat, so a maybe-sent one is always looked for.
            return await poster.send(delivery.target_id, message.identity, kwargs)
        destination = await self._destination(delivery, post)
        now = time.monotonic()
        self._sent_at = {n: at for n, at in self._sent_at.items() if now - at <= NONCE_TRUST_S}
        self._sent_at[nonce] = now
        posted = await call_discord(lambda: destination.send(nonce=nonce, **kwargs))
        if self._opens_thread(delivery):
            await open_thread_on(posted, message)
        return posted.id

    @staticmethod
    def _opens_thread(delivery: DeliveryRow) -> bool:
        return delivery.open_thread and delivery.kind == "item"

    async def _forum(self, delivery: DeliveryRow) -> tuple[discord.ForumChannel | None, int | None]:
        """The delivery's target when it is a forum (posts, not messages, go there), and the
        post a delivery of several messages opened there with its first one: known to this
        process, else the first message id it saved (a forum post's id is its thread's)."""
        if delivery.target_kind != "channel":
            return None, None
        known = await call_discord(
            lambda: self._channels.channel(
                delivery.target_id, fresh=False, guild_id=delivery.guild_id
            )
        )
        forum = known.channel if known is not None else None
        if not isinstance(forum, discord.ForumChannel):
            return None, None
        post = self._forum_posts.get(delivery.id)
        if post is None and delivery.progress:
            post = delivery.progress[0]
        return forum, post

    async def edit(self, delivery: DeliveryRow, message_id: int, message: Message) -> None:
        """PATCH the message (an edit of the same text twice is harmless)."""
        destination = await self._destination(delivery)
        kwargs = send_kwargs(message)
        kwargs.pop("files", None)
        partial = destination.get_partial_message(message_id)
        await call_discord(lambda: partial.edit(**kwargs))

    async def find_existing(
        self, delivery: DeliveryRow, message: Message, *, nonce: str
    ) -> int | None:
        """Look through the target's newest messages (back to when the delivery was queued)
        for one of ours carrying `nonce` or the same text and embeds. The outbox sends a
        target's messages one at a time in order, so an unconfirmed one is among the newest
        messages the bot posted there. In a forum, the post is looked for among the active
        threads instead (bot.delivery.discord_threads). A 403/404 on the history request means
        the target itself cannot be reached and is raised as such."""
        me = self._client.user
        forum, post = await self._forum(delivery)
        poster = self._poster(delivery, message, forum)
        # Forum posts and webhooks carry no nonce.
        nonce_sent = (forum is None or post is not None) and poster is None
        if me is None or not await self._should_look(delivery, nonce, nonce_sent=nonce_sent):
            return None
        # Our messages: the bot's own, and the channel webhook's.
        hook_id = await poster.webhook_id(delivery.target_id) if poster is not None else None

        def ours(posted: discord.Message) -> bool:
            return posted.author.id == me.id or (
                hook_id is not None and posted.webhook_id == hook_id
            )

        wanted = fingerprint(message.content, message.embeds)
        # A post of one item is known by the item's link: the item may have been edited
        # (new title or summary) since the first attempt.
        link = (
            message.embeds[0].url
            if delivery.kind in ("item", "dm", "edit") and message.embeds
            else None
        )
        since = datetime.fromtimestamp(delivery.created_at - 60, tz=UTC)

        def same(posted: discord.Message) -> bool:
            if not ours(posted):
                return False
            if fingerprint(posted.content, posted.embeds) == wanted:
                return True
            return bool(link) and any(embed.url == link for embed in posted.embeds)

        if forum is not None and post is None:
            return await call_discord(lambda: find_forum_post(forum, me, since, same))
        destination = await self._destination(delivery, post)

        async def scan() -> int | None:
            async for posted in destination.history(limit=HISTORY_LIMIT):
                if posted.created_at < since:
                    return None
                if not ours(posted):
                    continue
                if (posted.nonce is not None and str(posted.nonce) == nonce) or same(posted):
                    if self._opens_thread(delivery) and not posted.flags.has_thread:
                        # Sent, then stopped before its thread was opened: open it now.
                        await open_thread_on(posted, message)
                    return posted.id
            return None

        return await call_discord(scan)

    async def _should_look(self, delivery: DeliveryRow, nonce: str, *, nonce_sent: bool) -> bool:
        """True: look in the history. False: a resend with `nonce` is safe without looking
        (never for a forum post: it was sent without one, `nonce_sent` False).
        Raises PermanentSendError (this delivery only) when neither is possible."""
        if delivery.target_kind != "channel":
            return True  # a DM's history is always readable
        known = await call_discord(lambda: self._channels.channel(delivery.target_id))
        if known is None or known.permissions.read_message_history:
            return True  # readable, or an unknown channel: the request itself will say
        sent_at = self._sent_at.get(nonce) if nonce_sent else None
        if sent_at is not None and time.monotonic() - sent_at < NONCE_TRUST_S:
            log.info(
                "delivery %d: cannot read channel %d's history; resending within the nonce "
                "window (Discord drops a repeat)",
                delivery.id,
                delivery.target_id,
            )
            return False
        log.warning(
            "delivery %d to channel %d: %s", delivery.id, delivery.target_id, HISTORY_UNREADABLE
        )
        raise PermanentSendError(HISTORY_UNREADABLE, target_unreachable=False)

    async def system_channel_for(self, guild_id: int) -> int | None:
        found = await self._channels.guild(guild_id)
        # A guild fetched over REST has no channels loaded, so `system_channel` (a cache
        # lookup) is None there; discord.py keeps the id it was given, without a public name.
        channel_id = found[0]._system_channel_id if found is not None else None
        if channel_id is None:
            return None
        known = await self._channels.channel(channel_id)
        if known is not None and known.permissions.view_channel and known.permissions.send_messages:
            return known.channel.id
        return None

    async def guild_name(self, guild_id: int) -> str | None:
        """The guild's name (None when it cannot be learned now: the DM goes without it)."""
        try:
            found = await self._channels.guild(guild_id, fresh=False)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("guild %d: cannot learn its name: %s", guild_id, exc)
            return None
        return found[0].name if found is not None else None

    async def guild_locale(self, guild_id: int) -> str | None:
        """The guild's preferred locale (None when it cannot be learned now)."""
        try:
            found = await self._channels.guild(guild_id, fresh=False)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("guild %d: cannot learn its language: %s", guild_id, exc)
            return None
        return found[0].preferred_locale.value if found is not None else None
