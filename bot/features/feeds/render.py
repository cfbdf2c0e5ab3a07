"""Every answer of `/feed …` (and of the console's and the CLI's feed commands), rendered once.

Discord markdown; feed text passes `bot.safe.shown`. A channel is named by its label (on
Discord its mention `<#id>`, in the console `#console`): data the caller gives, so the same
answer reads right in both places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.features.feeds.filters import describe_filter
from bot.features.feeds.mention import not_mentionable_note
from bot.features.feeds.opml import ImportResult, import_report
from bot.features.feeds.rhythm import Rhythm, rhythm_lines, sparkline
from bot.features.feeds.service import AddedFeed
from bot.features.feeds.subscription_filter import FilterChange
from bot.features.feeds.subscriptions import FeedRemoval, FeedStatus, SubscribeResult
from bot.i18n import _, ngettext, sentences
from bot.ingest.errors import feed_error_text
from bot.ingest.pipeline import PollOutcome
from bot.model import Attachment, Embed, FeedFilter, FeedRow, GuildFeed, Message, SubscriptionView
from bot.safe import discord_timestamp, escape_markdown, safe_url, shown, truncate

LIST_LIMIT = 3900
FILTER_PREVIEW_SHOWN = 5  # titles listed per side (posted, held back) in /feed filter
IMPORT_REPORT_FILE = "opml-import-report.txt"
EXPORT_FILE = "digestbot-feeds.opml"
ADD_COMMAND = "digestbot feeds add URL"  # typed as is, in every language


def _label(labels: Mapping[int, str] | None, channel_id: int) -> str:
    return (labels or {}).get(channel_id) or f"<#{channel_id}>"


def _when(ts: float | None) -> str:
    if ts is None:
        # TRANSLATORS: when something last happened: not yet.
        return _("never")
    return discord_timestamp(datetime.fromtimestamp(ts, tz=UTC), "R")


def _url(url: str) -> str:
    """A feed's URL as a link that shows no preview (shown as text when it is no http(s) URL)."""
    safe = safe_url(url)
    return f"<{safe}>" if safe else shown(url)


def _role(role_id: int | None) -> str:
    # TRANSLATORS: no role is pinged.
    return _("none") if role_id is None else f"<@&{role_id}>"


def text_answer(text: str) -> Message:
    return Message(content=text)


def health(view: SubscriptionView) -> str:
    sub = view.subscription
    if sub.paused_reason is not None:
        return _("paused because {reason}", reason=shown(sub.paused_reason))
    if view.feed_disabled:
        return _("disabled")
    if view.consecutive_errors:
        unknown = _("unknown error")
        return ngettext(
            "failing since {since} ({count} error: {error})",
            "failing since {since} ({count} errors: {error})",
            view.consecutive_errors,
            since=_when(view.failing_since),
            error=shown(feed_error_text(view.last_error)) if view.last_error else unknown,
        )
    # TRANSLATORS: a feed's health when nothing is wrong.
    return _("ok")


# --- /feed add ------------------------------------------------------------------------------


def render_add(
    result: SubscribeResult,
    *,
    channel: str,
    pinged_role_id: int | None = None,
    role_notifies: bool = True,
) -> Message:
    """`pinged_role_id`: the role the command asked to ping (None: not given);
    `role_notifies`: False when that ping would notify nobody (the role is not mentionable)."""
    now_mode = result.subscription.mode
    names = {
        "title": shown(result.feed.display_title),
        "url": result.feed.url,
        "channel": channel,
        "mode": mode_name(now_mode),
    }
    lines: list[str] = []
    if result.discovered:
        lines.append(_("Found the feed **{title}** at <{url}>.", **names))
    if result.created:
        lines.append("✅ " + _("Following **{title}** in {channel} ({mode} mode).", **names))
    else:
        changed, kept = result.changes(_role)
        line = "✅ " + _("Already following **{title}** in {channel}.", **names)
        # TRANSLATORS: between the phrases of a list ("mode digest; role ping none").
        separator = _("; ")
        if changed:
            line = sentences(line, _("Changed: {changes}.", changes=separator.join(changed)))
        else:
            line = sentences(line, _("Nothing changed."))
        if kept:
            line = sentences(line, _("Kept: {kept}.", kept=separator.join(kept)))
        lines.append(line)
    if result.backfilled:
        lines.append(
            ngettext(
                "Posting its newest item there now.",
                "Posting its {count} newest items there now.",
                result.backfilled,
            )
        )
    if result.released:
        lines.append(released_line(result.released))
    previous_mode = result.previous.mode if result.previous is not None else None
    if now_mode == "digest" and previous_mode != "digest":
        lines.append(_("Items are collected for the channel's digest (`/digest schedule`)."))
    if pinged_role_id is not None:
        lines.append(_("Each post will ping {role}.", role=_role(pinged_role_id)))
        if not role_notifies:
            lines.append(not_mentionable_note())
    return Message(content="\n".join(lines))


def render_fetching(url: str) -> Message:
    """Said at once while a feed is added (a slow server can take the whole fetch time cap);
    on Discord the deferred reply's "thinking…" says it instead."""
    return Message(content=_("Fetching {url} …", url=shown(url)))


def render_add_failed(problem: str) -> Message:
    """`problem` may quote what a server answered: it passes the gate like any feed text."""
    return Message(
        content=_(
            "Sorry, I couldn't add that feed: {problem}", problem=shown(feed_error_text(problem))
        )
    )


# --- /feed remove, list, status, mode -------------------------------------------------------


def render_remove(removal: FeedRemoval, *, channel: str | None) -> Message:
    names = {"title": shown(removal.feed.title or removal.feed.url), "channel": channel}
    if removal.removed and channel:
        text = ngettext(
            "Removed **{title}** from {channel} ({count} subscription).",
            "Removed **{title}** from {channel} ({count} subscriptions).",
            removal.removed,
            **names,
        )
    elif removal.removed:
        text = ngettext(
            "Removed **{title}** ({count} subscription).",
            "Removed **{title}** ({count} subscriptions).",
            removal.removed,
            **names,
        )
    elif channel:
        text = _("**{title}** was not posted in {channel}; nothing changed.", **names)
    else:
        text = _("**{title}** was not posted; nothing changed.", **names)
    return Message(content=text)


def render_list(
    views: Sequence[SubscriptionView],
    labels: Mapping[int, str] | None = None,
    *,
    how_to_add: str = "`/feed add url:…`",  # a command: not translated
    rhythms: Mapping[int, Rhythm] | None = None,
) -> Message:
    """The guild's (or the console's) feeds, each with its URL and, from `rhythms` (by feed
    id), its last weeks as a compact sparkline; `how_to_add` is the command that adds one
    where the answer is read."""
    if not views:
        return Message(content=_("No feeds yet. Add one with {command}.", command=how_to_add))
    lines: list[str] = []
    size = 0
    for index, view in enumerate(views):
        sub = view.subscription
        rhythm = (rhythms or {}).get(sub.feed_id)
        line = (
            f"• `{sub.feed_id}` {shown(view.display_title)} {_url(view.feed_url)} → "
            f"{_label(labels, sub.channel_id)} · {mode_name(sub.mode)} · "
            + (f"`{sparkline(rhythm, compact=True)}` · " if rhythm else "")
            + _("new items last found {when}", when=_when(view.last_new_item_at))
            + f" · {health(view)}"
        )
        if sub.filter is not None:
            line += " · " + _("filter: {filter}", filter=filter_words(sub.filter))
        if size + len(line) > LIST_LIMIT:
            lines.append(and_more(len(views) - index))
            break
        lines.append(line)
        size += len(line) + 1
    embed = Embed(title=_("Feeds in this server"), description="\n".join(lines))
    return Message(embeds=(embed,))


def render_status(status: FeedStatus, labels: Mapping[int, str] | None = None) -> Message:
    if not status.views:
        return Message(content=_("This server does not follow that feed."))
    view = status.views[0]
    channels = _(", ").join(_label(labels, v.subscription.channel_id) for v in status.views)
    last_error = shown(feed_error_text(view.last_error)) if view.last_error else _("none")
    lines = [
        f"{shown(view.display_title)} {_url(view.feed_url)}",
        _("Last poll: {when}", when=_when(view.last_polled_at)),
        _("New items last found: {when}", when=_when(view.last_new_item_at)),
        _("Consecutive errors: {count}", count=view.consecutive_errors),
        _("Last error: {error}", error=last_error),
        _("Next poll: {when}", when=_when(max(view.next_poll_at, status.now))),
        _("Health: {health}", health=health(view)),
        _("Posts in: {channels}", channels=channels),
    ]
    lines += [
        _(
            "Filter in {channel}: {filter}",
            channel=_label(labels, v.subscription.channel_id),
            filter=filter_words(v.subscription.filter),
        )
        for v in status.views
        if v.subscription.filter is not None
    ]
    if status.rhythm is not None:
        lines += rhythm_lines(status.rhythm)
    return Message(content="\n".join(lines))


def mode_name(mode: str) -> str:
    return _("digest") if mode == "digest" else _("instant")


def released_line(count: int) -> str:
    return ngettext(
        "Posting the {count} item that was waiting for the digest now.",
        "Posting the {count} items that were waiting for the digest now.",
        count,
    )


def and_more(count: int) -> str:
    return _("…and {count} more.", count=count)


def render_mode(mode: str, posted: int, *, channel: str) -> Message:
    text = _(
        "That feed is now in **{mode}** mode in {channel}.", mode=mode_name(mode), channel=channel
    )
    if posted:
        text = sentences(text, released_line(posted))
    elif mode == "digest":
        text = sentences(text, _("Schedule the digest with `/digest schedule`."))
    return Message(content=text)


def render_merge(feed: GuildFeed, merge: bool, *, channel: str) -> Message:
    """`/feed merge`: whether the channel's posts of the feed may be merged into an earlier post
    of the same story from another of its feeds (on by default; see bot.ingest.story)."""
    title = f"**{shown(feed.title or feed.url)}**"
    if merge:
        return Message(
            content=_(
                "A story of {title} that {channel} already got from another feed in the "
                "last 72 hours is not posted again: the earlier post names it under “Also in”.",
                title=title,
                channel=channel,
            )
        )
    return Message(
        content=_(
            "Every post of {title} is posted in {channel}, even a story the channel "
            "already got from another feed.",
            title=title,
            channel=channel,
        )
    )


def render_not_posted_in(channel: str) -> Message:
    return Message(content=_("That feed does not post in {channel}.", channel=channel))


# --- /feed filter --------------------------------------------------------------------------


def filter_words(feed_filter: FeedFilter) -> str:
    """The filter in words (the admin's text, shown as text: no markdown, no pings)."""
    return _("; ").join(shown(words) for words in describe_filter(feed_filter))


def _item_line(title: str, mark: str, rule: str | None = None) -> str:
    name = truncate(shown(title) or _("(untitled)"), 80)
    return f"{mark} {name}" + (f" — {shown(rule)}" if rule else "")


def render_filter(change: FilterChange, labels: Mapping[int, str] | None = None) -> Message:
    """The filter now (set, kept or cleared) and what it would have done to the feed's newest
    items: "would post 7 of the last 20"."""
    names = {
        "title": shown(change.feed.title or change.feed.url),
        "channel": _label(labels, change.channel_id),
    }
    if change.current is None:
        if change.previous is not None:
            return Message(
                content=_(
                    "Removed the filter of **{title}** in {channel}: every new item is posted.",
                    **names,
                )
            )
        return Message(
            content=_(
                "**{title}** has no filter in {channel}: every new item is posted. Set one "
                "with include, exclude or pattern.",
                **names,
            )
        )
    names["filter"] = filter_words(change.current)
    if change.changed:
        lines = [_("Filter of **{title}** in {channel} now: {filter}.", **names)]
    else:
        lines = [_("Filter of **{title}** in {channel} still: {filter}.", **names)]
    preview = change.preview
    if not preview.total:
        lines.append(_("The feed has no items yet to try it on."))
        return Message(content="\n".join(lines))
    passed = len(preview.passed)
    lines.append(
        _("It would post {passed} of the last {total}:", passed=passed, total=preview.total)
    )
    lines += _first_items([_item_line(item.title, "✅") for item in preview.passed])
    if preview.held:
        lines.append(
            _("Held back ({count}; still archived and searchable):", count=len(preview.held))
        )
        lines += _first_items([_item_line(item.title, "🚫", rule) for item, rule in preview.held])
    return Message(content="\n".join(lines))


def _first_items(lines: list[str]) -> list[str]:
    """The first FILTER_PREVIEW_SHOWN item lines, then how many more there are."""
    more = len(lines) - FILTER_PREVIEW_SHOWN
    return lines[:FILTER_PREVIEW_SHOWN] + ([and_more(more)] if more > 0 else [])


def render_filter_refused(problem: str) -> Message:
    return Message(
        content=_(
            "Sorry, I can't use that filter: {problem} Nothing changed.", problem=shown(problem)
        )
    )


# --- /feed import, export -------------------------------------------------------------------


def render_import_refused(problem: str) -> Message:
    return Message(content=_("Sorry, I can't import that file: {problem}", problem=shown(problem)))


def render_import_too_large() -> Message:
    return Message(content=_("That file is larger than 1 MiB; split it and try again."))


def render_import_unreadable() -> Message:
    return Message(content=_("Sorry, I could not download that file. Please try again."))


def render_import_progress(done: int, total: int) -> Message:
    return Message(content=_("Importing… {done}/{total} feeds checked.", done=done, total=total))


def render_import_done(results: Sequence[ImportResult], *, channel: str) -> Message:
    """The summary line, with the whole report attached (feed titles are feed text)."""
    report = import_report(results)
    return Message(
        content=_(
            "Import into {channel} finished: {summary}.", channel=channel, summary=shown(report[-1])
        ),
        files=(Attachment(IMPORT_REPORT_FILE, "\n".join(report).encode("utf-8")),),
    )


def render_export(document: bytes, count: int) -> Message:
    if not count:
        return Message(content=_("This server follows no feeds yet."))
    return Message(
        content=ngettext("{count} feed.", "{count} feeds.", count),
        files=(Attachment(EXPORT_FILE, document),),
    )


# --- the CLI's archive commands (`digestbot feeds …`, `poll --once`) -----------------------


def render_archived(added: AddedFeed) -> Message:
    feed = f"**{shown(added.feed.display_title)}** <{added.feed.url}>"
    if not added.created:
        return Message(content=_("Already in the archive: {feed}", feed=feed))
    count = len(added.outcome.new_item_ids) if added.outcome else 0
    return Message(
        content=ngettext(
            "Added {feed}: {count} item archived",
            "Added {feed}: {count} items archived",
            count,
            feed=feed,
        )
    )


def render_archive(feeds: Sequence[tuple[FeedRow, int]]) -> Message:
    if not feeds:
        return Message(content=_("No feeds yet. Add one with {command}.", command=ADD_COMMAND))
    lines = []
    for feed, count in feeds:
        health = (
            _("failing: {error}", error=shown(feed_error_text(feed.last_error or "")))
            if feed.consecutive_errors
            else _("ok")
        )
        items = ngettext("{count} item", "{count} items", count)
        lines.append(
            f"`{feed.id}` **{shown(feed.display_title)}** <{feed.url}> · {items} · {health}"
        )
    return Message(content="\n".join(lines))


def render_poll_outcome(title: str, outcome: PollOutcome, new_titles: Sequence[str]) -> Message:
    """One feed's line of `digestbot poll --once`, then a line per new item."""
    name = f"**{shown(title)}**"
    if outcome.error is not None:
        return Message(
            content=_(
                "{feed}: failed: {error}",
                feed=name,
                error=shown(feed_error_text(outcome.error.message)),
            )
        )
    if outcome.not_modified:
        return Message(content=_("{feed}: unchanged", feed=name))
    counts = _(
        "{feed}: {new} new, {updated} updated",
        feed=name,
        new=len(outcome.new_item_ids),
        updated=len(outcome.updated_item_ids),
    )
    untitled = _("(untitled)")
    lines = [counts, *(f"  + {shown(item) or untitled}" for item in new_titles)]
    return Message(content="\n".join(lines))


def render_nothing_to_poll() -> Message:
    return Message(content=_("No feeds to poll. Add one with {command}.", command=ADD_COMMAND))


def render_document_head(title: str, url: str, count: int, warning: str | None) -> Message:
    """The head of `digestbot preview`: which feed, how many items, what the parser noticed."""
    items = ngettext("{count} item", "{count} items", count)
    if warning:
        items = _("{items}; note: {warning}", items=items, warning=shown(warning))
    return Message(content=f"**{shown(title)}** — <{url}>\n{items}")


def render_more_items(hidden: int, again: str) -> Message:
    """How many items `digestbot preview` left out, and the command that shows them all."""
    return Message(
        content="… "
        + ngettext(
            "{count} more item: {command}",
            "{count} more items: {command}",
            hidden,
            command=escape_markdown(again),
        )
    )


def render_import_report(results: Sequence[ImportResult]) -> Message:
    """`digestbot opml import`: a line per feed, then the totals."""
    return Message(content="\n".join(shown(line) for line in import_report(results)))
