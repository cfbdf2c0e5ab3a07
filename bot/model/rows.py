"""What the store returns: the rows every layer above it reads (plain data, no SQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

DeliveryKind = Literal["item", "digest", "dm", "notice"]
TargetKind = Literal["channel", "user"]
DeliveryState = Literal["pending", "sending", "sent", "failed", "paused", "cancelled"]
STATES: tuple[DeliveryState, ...] = ("pending", "sending", "sent", "failed", "paused", "cancelled")
SubscriptionMode = Literal["instant", "digest"]
MODES: tuple[SubscriptionMode, ...] = ("instant", "digest")
ScheduleCadence = Literal["daily", "weekly"]


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
        if not self.payload:
            return {}
        data = json.loads(self.payload)
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
