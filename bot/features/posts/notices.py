"""Our own notices to a channel or to a member: a feed failing and recovering, a channel the
bot can no longer post in.

A notice is queued as data (the `*_payload` functions) and written when it is sent, in the
language of whoever reads it (bot.delivery.compose sets it, and reads the English `text` of a
notice an older version queued). Feed titles are hostile text: made safe here, when rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.i18n import _, ngettext
from bot.ingest.errors import feed_error_text
from bot.model import CONTENT_LIMIT, Message
from bot.safe import fit_text, truncate

TITLE_LIMIT = 100
#: A feed's error text quotes what its server said: hostile text, shown made safe and capped.
ERROR_LIMIT = 300
#: A pause notice names at most this many of the paused feeds.
PAUSED_NOTICE_TITLES = 10

Payload = dict[str, object]


def failing_payload(feed_title: str, *, polls: int, since: int, error: str) -> Payload:
    return {"notice": "feed_failing", "feed": feed_title, "polls": polls, "since": since,
            "error": error}  # fmt: skip


def recovered_payload(feed_title: str) -> Payload:
    return {"notice": "feed_recovered", "feed": feed_title}


def paused_payload(
    channel_id: int, reason: str, feed_titles: Sequence[str], *, more: int = 0
) -> Payload:
    """`feed_titles`: the first PAUSED_NOTICE_TITLES paused feeds; `more`: how many others."""
    return {"notice": "channel_paused", "channel_id": channel_id, "reason": reason,
            "feeds": list(feed_titles[:PAUSED_NOTICE_TITLES]), "more": more}  # fmt: skip


def _text(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int(data: Mapping[str, object], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) else 0


def _feed(title: str) -> str:
    return f"**{fit_text(title, TITLE_LIMIT)}**"


def _paused(data: Mapping[str, object]) -> str:
    raw = data.get("feeds")
    titles = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []
    names = [_feed(t) for t in titles[:PAUSED_NOTICE_TITLES]]
    more = _int(data, "more")
    if more > 0:
        names.append(ngettext("and {count} more", "and {count} more", more))
    separator = _(", ")
    return _(
        "I could not post in {channel}: {reason}. Paused there: {feeds}. Once that is fixed, "
        "run `/feed add` in that channel again and the posts resume.",
        channel=f"<#{_int(data, 'channel_id')}>",
        reason=_text(data, "reason"),
        feeds=separator.join(names),
    )


def render_notice(data: Mapping[str, object]) -> Message | None:
    """The notice a payload describes, in the current language (None: not one of ours)."""
    kind = data.get("notice")
    if kind == "feed_failing":
        polls = _int(data, "polls")
        text = ngettext(
            "⚠️ The feed {feed} has failed {count} poll in a row (since {since}): {error} "
            "It is still retried, less often; you'll get a notice when it recovers.",
            "⚠️ The feed {feed} has failed {count} polls in a row (since {since}): {error} "
            "It is still retried, less often; you'll get a notice when it recovers.",
            polls,
            feed=_feed(_text(data, "feed")),
            since=f"<t:{_int(data, 'since')}:R>",
            error=fit_text(feed_error_text(_text(data, "error")), ERROR_LIMIT),
        )
    elif kind == "feed_recovered":
        text = _("✅ The feed {feed} is working again.", feed=_feed(_text(data, "feed")))
    elif kind == "channel_paused":
        text = _paused(data)
    else:
        return None
    return Message(content=truncate(text, CONTENT_LIMIT))
