"""The plain data every layer passes. A leaf: it imports nothing of ours.

A feed as the ingest stages pass it on (fetch → parse → enrich → store); the rows the store
returns; a parsed search query (`bot.search.query.parse_query` builds it, the store renders it
as FTS5 (`bot.store.search.to_fts5`), the percolator matches it in memory); and a `Message`: a
feature's answer rendered once (content and embed text in Discord markdown, already through
`bot.safe`), sent by bot.delivery.discord_message or printed by bot.delivery.terminal.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from bot.i18n import N_, _


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A podcast episode's audio (or other media) attachment."""

    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a parsed feed, before enrichment. `content_html` is raw, untrusted HTML."""

    stable_id: str
    title: str
    url: str | None
    author: str | None
    published: datetime | None  # aware, UTC; None when the feed gives no date
    content_html: str  # the fullest body the feed offers (content:encoded, atom content, ...)
    description_html: str  # the feed's own short description/subtitle, may equal the content
    image_url: str | None = None
    enclosure: Enclosure | None = None
    duration_s: int | None = None
    language: str | None = None
    # The xml:base in force where the feed wrote content_html (absolute), when it set one:
    # relative links in that HTML resolve against it.
    html_base: str | None = None
    # The address the entry names as its story's own (`<link rel="canonical">`, Atom or RSS),
    # absolute: only the story key reads it (bot.ingest.story); the id and posted link do not.
    canonical_url: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into plain data. `warning` is set when the XML was malformed."""

    title: str
    site_url: str | None
    description: str | None
    language: str | None
    entries: list[Entry] = field(default_factory=list)
    warning: str | None = None
    # The address the feed names as its own (atom:link rel="self", JSON Feed's feed_url),
    # absolute, as written: the publisher's word (bot.ingest.urls.own_address says when to
    # believe it).
    self_url: str | None = None
    image_url: str | None = None  # the feed's own image (logo), absolute http(s)


@dataclass(frozen=True, slots=True)
class EnrichedItem:
    """An Entry after the text stage: what the store archives. All text here is cleaned."""

    entry: Entry
    content_text: str  # plain text of the cleaned body (indexed for search)
    summary: str
    image_url: str | None
    content_hash: str  # sha256 of title + cleaned text: an edit changes it


@dataclass(frozen=True, slots=True)
class ItemView:
    """What rendering needs to know about one item (stored, or only previewed)."""

    item_id: int
    feed_id: int
    feed_title: str
    feed_url: str
    site_url: str | None
    title: str
    url: str | None
    author: str | None
    published: datetime  # aware, UTC
    summary: str
    image_url: str | None
    enclosure_url: str | None
    enclosure_type: str | None
    duration_s: int | None
    canonical_url: str | None = None  # the feed's rel=canonical for the item (story key only)


# 'edit': an item of a story the channel already got from another feed; it is not posted, the
# earlier post (the delivery in `merged_into`) is edited to name its source too.
DeliveryKind = Literal["item", "digest", "dm", "notice", "edit"]
TargetKind = Literal["channel", "user"]
DeliveryState = Literal["pending", "sending", "sent", "failed", "paused", "cancelled"]
STATES: tuple[DeliveryState, ...] = get_args(DeliveryState)
SubscriptionMode = Literal["instant", "digest"]
MODES: tuple[SubscriptionMode, ...] = get_args(SubscriptionMode)
ScheduleCadence = Literal["daily", "weekly"]
PostStyle = Literal["card", "compact", "text"]
POST_STYLES: tuple[PostStyle, ...] = get_args(PostStyle)


@dataclass(frozen=True, slots=True)
class PostFormat:
    """How a subscription's posts look (`/feed format`): the style, and the admin's template
    (placeholders such as `{title}`; checked by bot.features.posts.format before it is kept)."""

    style: PostStyle = "card"
    template: str | None = None

    @property
    def is_default(self) -> bool:
        return self.style == "card" and self.template is None


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    url: str
    title: str
    site_url: str | None
    description: str | None
    language: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    interval_s: float
    next_poll_at: float
    last_polled_at: float | None
    last_success_at: float | None
    last_new_item_at: float | None
    consecutive_errors: int
    last_error: str | None
    failing_since: float | None
    disabled: bool
    disabled_reason: str | None
    created_at: float

    @property
    def display_title(self) -> str:
        return self.title or self.url


@dataclass(frozen=True, slots=True)
class ItemRow:
    """An archived item as the delivery side sees it (no bodies: they are large)."""

    id: int
    feed_id: int
    stable_id: str
    url: str | None
    title: str
    author: str | None
    published_at: float
    first_seen_at: float
    summary: str
    image_url: str | None
    enclosure_url: str | None
    enclosure_type: str | None
    enclosure_length: int | None
    duration_s: int | None
    language: str | None
    content_hash: str
    feed_title: str
    feed_url: str
    site_url: str | None
    canonical_url: str | None = None  # the feed's rel=canonical for the item (story key only)


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """A subscription's filter, as the admin typed it (`/feed filter`): `include` and
    `exclude` are queries in the /search language, `pattern` an RE2 regular expression on the
    title and summary. None: that part is not set. Compiled by bot.features.feeds.filters."""

    include: str | None = None
    exclude: str | None = None
    pattern: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.include or self.exclude or self.pattern)


@dataclass(frozen=True, slots=True)
class ItemText:
    """An archived item's searchable text (what /search and filters read) and how to name it."""

    id: int
    url: str | None
    title: str
    summary: str
    text: str
    canonical_url: str | None = None  # the feed's rel=canonical for the item, when it gave one


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What decides whether two items are one story (bot.ingest.story): the link as a story
    key (None: it names no story), the bottom-k sketch of the title and opening, and the
    LSH band keys by which the store finds candidates (two texts of one story share one)."""

    url: str | None
    sketch: bytes
    bands: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: int
    guild_id: int
    channel_id: int
    feed_id: int
    mode: SubscriptionMode
    mention_role_id: int | None
    added_by: int | None
    created_at: float
    paused_reason: str | None
    paused_at: float | None
    filter: FeedFilter | None = None  # None: every item is posted

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with what /feed list and /feed status show about its feed."""

    subscription: SubscriptionRow
    feed_title: str
    feed_url: str
    site_url: str | None
    last_polled_at: float | None
    next_poll_at: float
    last_new_item_at: float | None
    consecutive_errors: int
    last_error: str | None
    failing_since: float | None
    feed_disabled: bool

    @property
    def display_title(self) -> str:
        return self.feed_title or self.feed_url

    @property
    def health(self) -> Literal["ok", "failing", "paused"]:
        if self.subscription.paused:
            return "paused"
        if self.consecutive_errors > 0:
            return "failing"
        return "ok"


@dataclass(frozen=True, slots=True)
class GuildFeed:
    """A feed this guild subscribes to (for autocomplete and search scoping)."""

    feed_id: int
    title: str
    url: str
    channel_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicRow:
    id: int
    guild_id: int
    user_id: int
    query: str  # as the member typed it
    norm_key: str
    feed_id: int | None
    created_at: float
    match_count: int
    last_match_at: float | None


@dataclass(frozen=True, slots=True)
class MemberDMs:
    user_id: int
    dm_channel_id: int | None
    dms_closed_at: float | None
    closed_notice_at: float | None

    @property
    def closed(self) -> bool:
        return self.dms_closed_at is not None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    dedupe_key: str
    kind: DeliveryKind
    item_id: int | None
    subscription_id: int | None
    guild_id: int | None
    target_kind: TargetKind
    target_id: int
    payload: str | None
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    maybe_sent: bool
    message_id: int | None
    last_error: str | None
    created_at: float
    sent_at: float | None
    # From the subscription, when there is one.
    mention_role_id: int | None
    added_by: int | None
    feed_id: int | None
    mention_when: str | None = None  # the role pings only posts matching it (None: every post)
    forum_tag_id: int | None = None  # in a forum: the tag a new post carries
    open_thread: bool = False  # in a text channel: each post opens a thread named after it
    merged_into: int | None = None  # kind 'edit': the delivery whose post names this item too

    @property
    def nonce(self) -> str:
        """The message nonce Discord de-duplicates on (≤ 25 characters)."""
        return f"d{self.id}"

    @property
    def progress(self) -> list[int | None]:
        """The ids of the messages of this delivery already sent (a digest is several)."""
        sent = self.payload_data().get("sent")
        if not isinstance(sent, list):
            return []
        return [v if isinstance(v, int) and not isinstance(v, bool) else None for v in sent]

    def payload_data(self) -> dict[str, object]:
        """The JSON payload as a dict ({} when there is none or it is not an object)."""
        data = json.loads(self.payload) if self.payload else None
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class DigestScheduleRow:
    channel_id: int
    guild_id: int
    channel_name: str
    cadence: ScheduleCadence
    local_time: str  # "HH:MM", wall clock in `timezone`
    timezone: str  # IANA name
    weekday: int | None  # 0 = Monday; weekly only
    created_by: int | None
    created_at: float
    updated_at: float  # last (re)scheduled: slots before it are never due
    # The slot of the last digest handled (queued or empty): the next period starts here.
    # Turning the schedule off moves it back to the start of a digest it cancelled.
    last_sent_slot: float | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    item_id: int
    feed_id: int
    title: str
    url: str | None
    feed_title: str
    author: str | None
    published_at: float
    snippet: str  # raw feed text, one line; matched words between SNIPPET_OPEN and SNIPPET_CLOSE
    enclosure_url: str | None = None
    enclosure_type: str | None = None
    duration_s: int | None = None


Phrase = tuple[str, ...]
"""Normalized tokens that must occur next to each other in one field (one token = a word)."""


class QueryProblem(enum.Enum):
    """Why a query cannot be run; `.message` is a polite sentence for the member."""

    NO_WORDS = N_("Your search has no searchable words (letters or numbers).")
    ONLY_EXCLUSIONS = N_(
        "Your search only excludes words (with -). Add at least one word to look for."
    )

    @property
    def message(self) -> str:
        """In the current language (bot.i18n)."""
        return _(str(self.value))


@dataclass(frozen=True, slots=True)
class Query:
    """Every group must match (a group: any of its phrases occurs), and no `excluded` phrase.
    Groups, phrases and exclusions keep the member's order (duplicates removed), so `key` is
    stable for the same words."""

    groups: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...]

    @property
    def problem(self) -> QueryProblem | None:
        if self.groups:
            return None
        return QueryProblem.ONLY_EXCLUSIONS if self.excluded else QueryProblem.NO_WORDS

    @property
    def key(self) -> str:
        """A canonical text of the query: equal for queries that mean the same."""
        groups = sorted(" OR ".join(sorted(_show(p) for p in g)) for g in self.groups)
        excluded = sorted("-" + _show(p) for p in self.excluded)
        return " ".join(groups + excluded)


def _show(phrase: Phrase) -> str:
    return phrase[0] if len(phrase) == 1 else '"' + " ".join(phrase) + '"'


# Discord's documented message limits.
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
BUTTONS_PER_MESSAGE = 25
BUTTON_LABEL_LIMIT = 80

EMBED_COLOUR = 0x5865F2


@dataclass(frozen=True, slots=True)
class EmbedField:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Embed:
    """A Discord embed as plain data: Discord markdown where Discord renders it (title,
    description, field values), plain text elsewhere (author, footer, field names)."""

    title: str | None = None
    url: str | None = None
    description: str | None = None
    author: str | None = None
    author_url: str | None = None
    footer: str | None = None
    image_url: str | None = None
    timestamp: datetime | None = None  # aware; Discord shows it in each member's zone
    fields: tuple[EmbedField, ...] = ()
    colour: int = EMBED_COLOUR

    def size(self) -> int:
        """Characters Discord counts toward its 6000 limit: title, description, field names
        and values, footer text and author name."""
        total = len(self.title or "") + len(self.description or "")
        total += sum(len(f.name) + len(f.value) for f in self.fields)
        return total + len(self.footer or "") + len(self.author or "")


@dataclass(frozen=True, slots=True)
class Button:
    """A button: `custom_id` for one the bot handles, or `url` for a link button."""

    label: str
    custom_id: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a post appears to be from when it goes out through the channel's webhook: the name
    and avatar shown. As a subscription's setting, None means the feed's own title / image."""

    name: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelWebhook:
    """The webhook the bot made in a channel. The token is a secret: kept out of repr."""

    channel_id: int
    webhook_id: int
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Message:
    """One message, rendered once. `mention_role_id` is the only ping it may make (a role an
    admin opted into); everything else in it never pings."""

    content: str | None = None
    embeds: tuple[Embed, ...] = ()
    buttons: tuple[Button, ...] = ()
    files: tuple[Attachment, ...] = ()
    mention_role_id: int | None = None
    # The name a forum post or a thread opened from this message gets (None: its first
    # embed's title, else its first line of text).
    title: str | None = None
    # Post through the channel's webhook under this name and avatar (None: as the bot).
    identity: Identity | None = None
