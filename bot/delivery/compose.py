"""What each kind of delivery says: the feature that owns it renders its Messages.

item → the post (features.posts), edit → the earlier post of the same story naming this
item's feed too (features.posts), dm → the topic DM (features.follow), digest → the digest's
messages (features.digest), notice → our own notice (features.posts.notices). Each is written
in its reader's language (features.posts.language): the channel's, or for a DM the member's.
The outbox sends whatever this returns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.delivery.outbox import Cancelled, merged_into
from bot.delivery.senders import PermanentSendError
from bot.delivery.thread_title import with_thread_title
from bot.features.digest.service import DigestService
from bot.features.follow.dm import MatchedTopic, payload_topics, render_topic_dm
from bot.features.posts.compose import subscription_post
from bot.features.posts.language import Languages
from bot.features.posts.mention import post_mention
from bot.features.posts.notices import render_notice
from bot.features.posts.render import Source, render_post
from bot.features.posts.views import item_view
from bot.i18n import use_locale
from bot.model import CONTENT_LIMIT, DeliveryRow, ItemView, Message
from bot.safe import truncate
from bot.store import Store

log = logging.getLogger(__name__)

GuildName = Callable[[int], Awaitable[str | None]]


class DeliveryComposer:
    def __init__(
        self,
        store: Store,
        digests: DigestService,
        guild_name: GuildName,
        languages: Languages | None = None,
    ) -> None:
        self._store = store
        self._digests = digests
        self._guild_name = guild_name
        self._languages = languages or Languages(store)

    async def __call__(self, delivery: DeliveryRow) -> Sequence[Message]:
        languages = self._languages
        reader = languages.for_member if delivery.target_kind == "user" else languages.for_channel
        with use_locale(await reader(delivery.target_id, delivery.guild_id)):
            return [with_thread_title(message) for message in await self._compose(delivery)]

    async def _compose(self, delivery: DeliveryRow) -> Sequence[Message]:
        if delivery.kind == "digest":
            messages = await self._digests.delivery_messages(delivery)
            if not messages:
                raise PermanentSendError(
                    "the digest's items no longer exist", target_unreachable=False
                )
            return messages
        if delivery.kind == "dm":
            return await self._topic_dm(delivery)
        if delivery.kind == "edit":
            merged = await self._merged_post(delivery)
            if merged is not None:
                return [merged]
        if delivery.item_id is not None:
            item = await self._item(delivery)
            if delivery.kind not in ("item", "edit"):  # an edit with no post to edit posts itself
                return [render_post(item)]
            mention = await post_mention(
                self._store, delivery.item_id, delivery.mention_role_id, delivery.mention_when
            )
            if delivery.subscription_id is None:
                return [render_post(item, mention_role_id=mention)]
            post = subscription_post(
                self._store,
                delivery.subscription_id,
                item,
                mention_role_id=mention,
                guild_id=delivery.guild_id,
            )
            return [await post]
        payload = delivery.payload_data()
        notice = render_notice(payload)
        if notice is not None:
            return [notice]
        text = payload.get("text")
        if isinstance(text, str) and text:
            return [Message(content=truncate(text, CONTENT_LIMIT))]
        raise PermanentSendError(
            f"nothing to send for a {delivery.kind} delivery", target_unreachable=False
        )

    async def _merged_post(self, delivery: DeliveryRow) -> Message | None:
        """The earlier post of this item's story as it now reads: naming every feed merged
        into it (the same text however often it is sent, so the edit is idempotent). None:
        that post was never sent, so this item is posted on its own."""
        original = await merged_into(self._store, delivery)
        if original is None or original.item_id is None:
            return None
        row = await self._store.items.get(original.item_id)
        if row is None:
            return None
        mention = await post_mention(
            self._store, original.item_id, original.mention_role_id, original.mention_when
        )
        sources = await self._store.deliveries.merged_sources(original.id)
        also_in = [Source(name, url) for name, url in sources]
        return render_post(item_view(row), mention_role_id=mention, also_in=also_in)

    async def _item(self, delivery: DeliveryRow) -> ItemView:
        row = await self._store.items.get(delivery.item_id) if delivery.item_id else None
        if row is None:
            raise Cancelled("the item no longer exists")
        return item_view(row)

    async def _topic_dm(self, delivery: DeliveryRow) -> list[Message]:
        """The DM for the topics the member still follows (none left: nothing to send)."""
        item = await self._item(delivery)
        topics: list[MatchedTopic] = []
        for topic in payload_topics(delivery.payload_data()):
            row = await self._store.topics.get(topic.id)
            if row is not None and row.user_id == delivery.target_id:
                name = await self._guild_name(topic.guild_id)
                topics.append(MatchedTopic(topic.id, topic.guild_id, topic.query, name))
        if not topics:
            log.info("delivery %d: the member unfollowed every matched topic", delivery.id)
            return []
        return [render_topic_dm(topics, item)]
