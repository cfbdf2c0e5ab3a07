"""Send one topic DM: the item's embed, which topic(s) matched in which server, and a
persistent "Stop this topic" button per topic.

A 'dm' delivery is queued by `bot.store.topics.queue_topic_dms_tx` with a payload listing the
matched topics (`{"topics": [{"id", "guild_id", "query"}]}`). At send time, topics the member
has unfollowed since are left out (none left: nothing is sent). The button's custom id is
`topic:stop:{topic_id}`; `cogs.follow` handles it as a `DynamicItem`, so it works after a
restart. The member's DM channel id is kept in the members table, so a restarted bot does not
open the DM channel again. Console mode prints the same thing as text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.deliver.render import ItemView, render_item_embed, render_item_text
from bot.deliver.sanitize import fit_text, one_line, strip_control
from bot.deliver.senders import (
    CONTENT_LIMIT,
    DiscordSender,
    PermanentSendError,
    Sender,
    SentMessage,
    call_discord,
)
from bot.deliver.views import item_view
from bot.store import Store
from bot.store.deliveries import DeliveryRow
from bot.store.topics import TopicStore

log = logging.getLogger(__name__)

STOP_TOPIC_TEMPLATE = r"topic:stop:(?P<topic_id>[0-9]{1,19})"
STOP_LABEL = "Stop this topic"
MAX_BUTTONS = 25  # Discord: 5 rows of 5
BUTTON_LABEL_LIMIT = 80
TOPIC_SHOWN_LIMIT = 100
GUILD_SHOWN_LIMIT = 100
_STOP_ID = re.compile(STOP_TOPIC_TEMPLATE)


def stop_topic_custom_id(topic_id: int) -> str:
    return f"topic:stop:{topic_id}"


def topic_id_of(custom_id: str) -> int | None:
    """The topic a "Stop this topic" button names, or None for another custom id."""
    match = _STOP_ID.fullmatch(custom_id)
    return int(match["topic_id"]) if match else None


@dataclass(frozen=True, slots=True)
class MatchedTopic:
    id: int
    guild_id: int
    query: str
    guild_name: str | None = None


def payload_topics(delivery: DeliveryRow) -> list[MatchedTopic]:
    """The topics a 'dm' delivery was queued for (malformed entries are skipped)."""
    raw = delivery.payload_data().get("topics")
    topics: list[MatchedTopic] = []
    if not isinstance(raw, list):
        return topics
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        topic_id, guild_id, query = entry.get("id"), entry.get("guild_id"), entry.get("query")
        if isinstance(topic_id, int) and isinstance(guild_id, int) and isinstance(query, str):
            topics.append(MatchedTopic(topic_id, guild_id, query))
    return topics


def _safe(text: str, limit: int) -> str:
    return fit_text(one_line(text), limit)


def topic_dm_content(topics: Sequence[MatchedTopic]) -> str:
    """The line above the embed: the matched topics, grouped by server (Discord markdown,
    member and server text made safe)."""
    by_guild: dict[int, list[MatchedTopic]] = {}
    for topic in topics:
        by_guild.setdefault(topic.guild_id, []).append(topic)
    parts = []
    for matched in by_guild.values():
        part = ", ".join(f"**{_safe(t.query, TOPIC_SHOWN_LIMIT)}**" for t in matched)
        name = matched[0].guild_name
        if name:
            part += f" in **{_safe(name, GUILD_SHOWN_LIMIT)}**"
        parts.append(part)
    noun = "your topic" if len(topics) == 1 else "your topics"
    text = f"🔔 A new post matches {noun} " + "; ".join(parts)
    return fit_text(text, CONTENT_LIMIT, markdown=False)


def topic_dm_text(topics: Sequence[MatchedTopic], item: ItemView) -> str:
    """Console mode: the same DM as terminal text."""

    def clean(text: str) -> str:
        return one_line(strip_control(text))

    names = ", ".join(
        f"`{clean(t.query)}`" + (f" in {clean(t.guild_name)}" if t.guild_name else "")
        for t in topics
    )
    noun = "topic" if len(topics) == 1 else "topics"
    return f"🔔 matches your {noun} {names}\n{render_item_text(item)}"


def _button_label(topic: MatchedTopic, alone: bool) -> str:
    if alone:
        return STOP_LABEL
    label = f"Stop “{one_line(strip_control(topic.query))}”"
    return label if len(label) <= BUTTON_LABEL_LIMIT else label[: BUTTON_LABEL_LIMIT - 2] + "…”"


def stop_topic_view(topics: Sequence[MatchedTopic]) -> discord.ui.View:
    """One "Stop" button per topic, custom id `topic:stop:{id}`. The view is finished, so
    discord.py does not keep it per message: the registered DynamicItem handles clicks."""
    view = discord.ui.View(timeout=None)
    shown = topics[:MAX_BUTTONS]
    for topic in shown:
        view.add_item(
            discord.ui.Button(
                label=_button_label(topic, len(shown) == 1),
                style=discord.ButtonStyle.secondary,
                custom_id=stop_topic_custom_id(topic.id),
            )
        )
    view.stop()
    return view


class TopicDMSender:
    """The outbox handler for 'dm' deliveries."""

    def __init__(self, store: Store, topics: TopicStore) -> None:
        self._store = store
        self._topics = topics
        self._dm_channels: dict[int, int] = {}  # user id → DM channel id

    async def _still_followed(self, delivery: DeliveryRow) -> list[MatchedTopic]:
        kept = []
        for topic in payload_topics(delivery):
            row = await self._topics.get(topic.id)
            if row is not None and row.user_id == delivery.target_id:
                kept.append(topic)
        return kept

    async def send(self, sender: Sender, delivery: DeliveryRow) -> SentMessage:
        if delivery.item_id is None:
            raise PermanentSendError("a topic DM without an item", target_unreachable=False)
        row = await self._store.items.get(delivery.item_id)
        if row is None:
            raise PermanentSendError("the item no longer exists", target_unreachable=False)
        topics = await self._still_followed(delivery)
        if not topics:
            log.info("delivery %d: the member unfollowed every matched topic", delivery.id)
            return SentMessage(None)
        item = item_view(row)
        if not isinstance(sender, DiscordSender):
            return await sender.send_text(delivery, topic_dm_text(topics, item))
        client = sender.client
        named = []
        for topic in topics:
            guild = client.get_guild(topic.guild_id)
            named.append(
                MatchedTopic(topic.id, topic.guild_id, topic.query, guild.name if guild else None)
            )
        destination = await self._dm_channel(client, delivery.target_id)
        content = topic_dm_content(named)
        embed = render_item_embed(item)
        view = stop_topic_view(named)
        sent = await call_discord(
            lambda: destination.send(
                content=content,
                embed=embed,
                view=view,
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=delivery.nonce,
            )
        )
        return SentMessage(sent.id, sent.channel.id)

    async def _dm_channel(self, client: discord.Client, user_id: int) -> discord.PartialMessageable:
        """The member's DM channel: remembered in this process, else in the members table,
        else opened (and remembered in both)."""
        dm_id = self._dm_channels.get(user_id)
        if dm_id is None:
            dm_id = (await self._topics.member(user_id)).dm_channel_id
        if dm_id is None:
            user = client.get_user(user_id)
            if user is None:
                user = await call_discord(lambda: client.fetch_user(user_id))
            channel = await call_discord(user.create_dm)
            dm_id = channel.id
            await self._topics.set_dm_channel(user_id, dm_id)
        self._dm_channels[user_id] = dm_id
        return client.get_partial_messageable(dm_id, type=discord.ChannelType.private)
