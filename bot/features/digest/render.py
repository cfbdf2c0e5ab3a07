"""The answers of `/digest schedule|off|preview` (and the console's `digest …`), rendered once.

A channel is named by its label: its mention on Discord, `#console` in the console.
"""

from __future__ import annotations

from bot.features.digest.service import DigestPreview, ScheduledDigest
from bot.i18n import N_, _, ngettext
from bot.model import Message
from bot.safe import discord_timestamp, shown

# Preview messages shown at most; a longer digest says how many more there are.
PREVIEW_MESSAGES = 5
PREVIEW_INTRO = N_("Preview (only you see this):")


def render_scheduled(scheduled: ScheduledDigest, *, channel: str) -> Message:
    lines = [
        "✅ "
        + _(
            "{channel} gets a digest {when}. Next one: {next}.",
            channel=channel,
            when=scheduled.describe(),
            next=discord_timestamp(scheduled.next_slot, "F"),
        )
    ]
    if scheduled.typed_zone:
        lines.append(
            _(
                "“{typed}” was read as the time zone {zone}, which follows daylight saving "
                "time. For a fixed offset all year, schedule it again with one such as "
                "Etc/GMT+5 (UTC−5).",
                typed=shown(scheduled.typed_zone),
                zone=scheduled.schedule.timezone,
            )
        )
    if not scheduled.digest_feeds:
        lines.append(
            _(
                "No feed is collected for it yet: add one with `/feed add … mode:digest`, "
                "or switch a feed of that channel to digest mode."
            )
        )
    return Message(content="\n".join(lines))


def render_schedule_refused(problem: str) -> Message:
    return Message(
        content=_("Sorry, I couldn't set that digest: {problem}", problem=shown(problem))
    )


def render_off(turned_off: bool, *, channel: str) -> Message:
    if turned_off:
        return Message(
            content=_(
                "Digest for {channel} turned off. Its digest-mode feeds keep being "
                "collected; schedule it again with `/digest schedule`.",
                channel=channel,
            )
        )
    return Message(content=_("{channel} has no digest; nothing changed.", channel=channel))


def render_preview(preview: DigestPreview, *, channel: str) -> list[Message]:
    """The digest as it would be sent now: at most PREVIEW_MESSAGES messages, the first
    introduced as a preview, then how many more the real digest has."""
    if not preview.messages:
        nothing = _(
            "Nothing for {channel}'s digest yet: its digest-mode feeds have no new items since "
            "{since}.",
            channel=channel,
            since=discord_timestamp(preview.period_start, "f"),
        )
        return [Message(content=nothing)]
    shown_messages = preview.messages[:PREVIEW_MESSAGES]
    first = shown_messages[0].content
    intro = f"{_(PREVIEW_INTRO)}\n{first}" if first else _(PREVIEW_INTRO)
    # A preview pings nobody, even if the real digest would.
    answers = [
        Message(content=m.content if i else intro, embeds=m.embeds)
        for i, m in enumerate(shown_messages)
    ]
    hidden = len(preview.messages) - len(shown_messages)
    if hidden:
        more = ngettext(
            "…and {count} more message in the real digest.",
            "…and {count} more messages in the real digest.",
            hidden,
        )
        answers.append(Message(content=more))
    return answers
