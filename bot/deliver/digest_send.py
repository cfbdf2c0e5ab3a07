"""Send one digest delivery: its messages in order, each exactly once across retries and crashes.

A digest is several messages under one delivery. Progress (the ids of the messages already
sent) is saved after each message, so a retry or a restart continues with the next one. Each
message has its own nonce (`d{delivery}.{index}`, never the delivery's plain `d{delivery}`,
so the outbox's own maybe-sent lookup never takes the first message for the whole digest).
When the last attempt may have reached Discord (`maybe_sent`), the first unsent message is
looked for by its nonce before it is sent again; Discord also drops a quick resend with the
same nonce. Later messages cannot have been sent: each is sent only after the previous one's
progress was saved.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import discord

from bot.deliver.digest import DigestMessage, digest_text
from bot.deliver.senders import (
    DiscordSender,
    HistoryCheck,
    Sender,
    SentMessage,
    call_discord,
)
from bot.store.deliveries import DeliveryRow

log = logging.getLogger(__name__)

SaveProgress = Callable[[list[int | None]], Awaitable[None]]


def digest_nonce(delivery_id: int, index: int) -> str:
    """The nonce of message `index` of a digest delivery (≤ 25 characters)."""
    return f"d{delivery_id}.{index}"


@runtime_checkable
class DigestPoster(Protocol):
    """Posts one message of a digest and finds one posted before."""

    async def post_digest_message(
        self, delivery: DeliveryRow, message: DigestMessage, nonce: str
    ) -> SentMessage: ...

    async def find_digest_message(
        self, delivery: DeliveryRow, nonce: str, message: DigestMessage
    ) -> int | None: ...


class DiscordDigestPoster:
    """Digest messages through a connected discord.py client (never pinging anyone)."""

    def __init__(
        self,
        client: discord.Client,
        *,
        history_limit: int = 100,
        history_check: HistoryCheck | None = None,
    ) -> None:
        self._client = client
        self._history_limit = history_limit
        self._history_check = history_check or HistoryCheck(client)

    def _channel(self, delivery: DeliveryRow) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(delivery.target_id, guild_id=delivery.guild_id)

    async def post_digest_message(
        self, delivery: DeliveryRow, message: DigestMessage, nonce: str
    ) -> SentMessage:
        channel = self._channel(delivery)
        self._history_check.note_send(nonce)
        sent = await call_discord(
            lambda: channel.send(
                content=message.content,
                embeds=message.embeds,
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=nonce,
            )
        )
        return SentMessage(sent.id, sent.channel.id)

    async def find_digest_message(
        self, delivery: DeliveryRow, nonce: str, message: DigestMessage
    ) -> int | None:
        """The bot's copy of `message` among the channel's newest (back to when the digest was
        queued), or None. Matched by nonce, else by its content and embeds: Discord does not
        return nonces in channel history, only in the answer to the send. Without Read
        Message History: `HistoryCheck` decides (resend within the nonce window, else this
        delivery fails rather than risk a duplicate)."""
        wanted = _fingerprint(message.content, [e.to_dict() for e in message.embeds])
        me = self._client.user
        if me is None:
            return None
        if not await self._history_check.should_look(delivery, nonce):
            return None
        channel = self._channel(delivery)
        since = datetime.fromtimestamp(delivery.created_at - 60, tz=UTC)

        async def scan() -> int | None:
            async for posted in channel.history(limit=self._history_limit):
                if posted.created_at < since:
                    return None
                if posted.author.id != me.id:
                    continue
                if str(posted.nonce) == nonce or wanted == _fingerprint(
                    posted.content, [e.to_dict() for e in posted.embeds]
                ):
                    return posted.id
            return None

        return await call_discord(scan)


def _fingerprint(content: str | None, embeds: Sequence[Mapping[str, Any]]) -> tuple[object, ...]:
    """What identifies one digest message in the channel: its text and its embeds' texts."""
    return (
        (content or "").strip(),
        tuple((e.get("title"), e.get("description"), e.get("url")) for e in embeds),
    )


def poster_for(sender: Sender) -> DigestPoster | None:
    """How `sender` posts digest messages one by one; None: it takes the digest as text."""
    if isinstance(sender, DigestPoster):
        return sender
    if isinstance(sender, DiscordSender):
        return DiscordDigestPoster(sender.client, history_check=sender.history_check)
    return None


async def send_digest(
    sender: Sender,
    delivery: DeliveryRow,
    messages: Sequence[DigestMessage],
    sent: Sequence[int | None],
    save_progress: SaveProgress,
) -> SentMessage:
    """Send `messages[len(sent):]` in order, saving progress after each; the first message's
    id is the delivery's. A sender that cannot post embeds (console) gets the whole digest
    as one text."""
    poster = poster_for(sender)
    if poster is None:
        return await sender.send_text(delivery, digest_text(messages))
    done = list(sent)
    resume_at = len(done)
    for index in range(resume_at, len(messages)):
        nonce = digest_nonce(delivery.id, index)
        if index == resume_at and delivery.maybe_sent:
            existing = await poster.find_digest_message(delivery, nonce, messages[index])
            if existing is not None:
                log.info("delivery %d: digest message %d was already posted", delivery.id, index)
                done.append(existing)
                await save_progress(done)
                continue
        result = await poster.post_digest_message(delivery, messages[index], nonce)
        done.append(result.message_id)
        await save_progress(done)
    return SentMessage(done[0] if done else None, delivery.target_id)
