"""How a subscription and a feed's health are described, on Discord and in the terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.model import SubscriptionView
from bot.safe import escape_markdown, neutralize_mentions, strip_control


def when(ts: float | None, *, markdown: bool, never: str = "never") -> str:
    """A Discord relative timestamp (each member sees their own zone) or a UTC time."""
    if ts is None:
        return never
    if markdown:
        return f"<t:{int(ts)}:R>"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def shown(text: str, *, markdown: bool) -> str:
    """Feed text (a title, an error) made safe: on Discord no pings and no markdown, in the
    terminal no control characters (a feed must not send escape sequences)."""
    return neutralize_mentions(escape_markdown(text)) if markdown else strip_control(text)


def _title(view: SubscriptionView, *, markdown: bool) -> str:
    return shown(view.display_title, markdown=markdown)


def health(view: SubscriptionView, *, markdown: bool) -> str:
    sub = view.subscription
    if sub.paused_reason is not None:
        return f"paused because {sub.paused_reason}"
    if view.feed_disabled:
        return "disabled"
    if view.consecutive_errors:
        since = when(view.failing_since, markdown=markdown)
        error = shown(view.last_error or "unknown error", markdown=markdown)
        count = view.consecutive_errors
        return f"failing since {since} ({count} error{'' if count == 1 else 's'}: {error})"
    return "ok"


def describe_subscription(view: SubscriptionView, *, markdown: bool) -> str:
    sub = view.subscription
    channel = f"<#{sub.channel_id}>" if markdown else "this console"
    last = when(view.last_new_item_at, markdown=markdown)
    ident = f"[{sub.feed_id}] " if not markdown else ""
    return (
        f"{ident}{_title(view, markdown=markdown)} → {channel} · {sub.mode} · "
        f"last new item {last} · {health(view, markdown=markdown)}"
    )


def describe_status(view: SubscriptionView, *, now: float, markdown: bool) -> str:
    lines = [
        f"{_title(view, markdown=markdown)} <{view.feed_url}>",
        f"Last poll: {when(view.last_polled_at, markdown=markdown)}",
        f"Last new item: {when(view.last_new_item_at, markdown=markdown)}",
        f"Consecutive errors: {view.consecutive_errors}",
        f"Last error: {_error(view, markdown=markdown)}",
        f"Next poll: {when(max(view.next_poll_at, now), markdown=markdown)}",
        f"Health: {health(view, markdown=markdown)}",
    ]
    return "\n".join(lines)


def _error(view: SubscriptionView, *, markdown: bool) -> str:
    return shown(view.last_error or "none", markdown=markdown)
