"""The search answers, each rendered once as a `Message`: a page of `/search` results, the
`/latest` list, a result shared to a channel, and the answers that have nothing to list. Feed
and member text passes bot.safe.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.features.posts.render import item_details, render_card, render_compact
from bot.features.posts.views import item_view
from bot.features.search.service import SearchResults, empty_answer
from bot.i18n import _, ngettext
from bot.model import EMBED_DESCRIPTION_LIMIT, Embed, ItemRow, Message, SearchHit
from bot.safe import (
    discord_timestamp,
    escape_markdown,
    fit_text,
    link_target,
    neutralize_mentions,
    one_line,
    safe_url,
    shown,
    strip_control,
)
from bot.store.search import SNIPPET_CLOSE, SNIPPET_OPEN

HIT_TITLE_LIMIT = 120
HIT_FEED_LIMIT = 60
HIT_AUTHOR_LIMIT = 40
HIT_LINK_LIMIT = 300  # a longer URL is left out rather than crowd out the snippet
SNIPPET_LIMIT = 220
MIN_SNIPPET = 40
QUERY_SHOWN_LIMIT = 200

# A snippet's markdown cut into what must not be split: an escape, a bold marker, a character.
MARKDOWN_TOKEN = re.compile(r"\\.|\*\*|.", re.DOTALL)
_MARKERS = re.compile(f"([{SNIPPET_OPEN}{SNIPPET_CLOSE}])")


def snippet_markdown(raw: str) -> str:
    """A store snippet (feed text with matched words between marker characters) → one line of
    Discord markdown: feed text through bot.safe (no controls, pings or markdown of its own),
    matched words in **bold**."""
    # Controls are stripped piece by piece (the markers are control characters themselves);
    # mentions and markdown over the whole line, so line-start rules see only its real start.
    pieces = _MARKERS.split(raw)
    text = "".join(p if p in (SNIPPET_OPEN, SNIPPET_CLOSE) else strip_control(p) for p in pieces)
    escaped = escape_markdown(neutralize_mentions(one_line(text)))
    out: list[str] = []
    bold = False
    for piece in _MARKERS.split(escaped):
        if piece == SNIPPET_OPEN:
            bold = True
        elif piece == SNIPPET_CLOSE:
            bold = False
        elif bold and piece.strip():
            core = piece.strip()
            lead = piece[: len(piece) - len(piece.lstrip())]
            trail = piece[len(piece.rstrip()) :]
            out.append(f"{lead}**{core}**{trail}")
        else:
            out.append(piece)
    return "".join(out).strip()


def cut_snippet(snippet: str, limit: int) -> str:
    """Shorten a snippet in Discord markdown (escapes, `**bold**`) to `limit` characters without
    splitting an escape or leaving bold open."""
    if len(snippet) <= limit:
        return snippet
    out: list[str] = []
    size = 0
    bold = False
    for token in MARKDOWN_TOKEN.findall(snippet):
        # Room for this token, the ellipsis and a closing "**".
        if size + len(token) + 1 + (2 if bold or token == "**" else 0) > limit:
            break
        if token == "**":
            bold = not bold
        out.append(token)
        size += len(token)
    text = "".join(out)
    if bold:
        if text.endswith("**"):
            text, bold = text[:-2], False
        else:
            text = text.rstrip()
    return text + ("**" if bold else "") + "…"


def _hit_block(number: int, hit: SearchHit, budget: int) -> str:
    """One result: linked title, feed · time · the item's details (author, podcast duration
    and link), snippet; within `budget` characters (long links are dropped first, then the
    snippet shortened)."""
    title = fit_text(one_line(hit.title) or _("(untitled)"), HIT_TITLE_LIMIT)
    when = discord_timestamp(datetime.fromtimestamp(hit.published_at, tz=UTC), "R")
    meta = [fit_text(one_line(hit.feed_title) or _("feed"), HIT_FEED_LIMIT), when]
    heading = f"**{number}. {title}**"
    meta_line = ""
    for link_limit in (HIT_LINK_LIMIT, 0):  # the audio link is left out when it does not fit
        details = item_details(hit, link_limit=link_limit).line(author_limit=HIT_AUTHOR_LIMIT)
        meta_line = " · ".join(meta + ([details] if details else []))
        if len(heading) + len(meta_line) + 2 + MIN_SNIPPET <= budget:
            break
    url = safe_url(hit.url)
    if url is not None:
        linked = f"**{number}. [{title}]({link_target(url)})**"
        if len(link_target(url)) <= HIT_LINK_LIMIT and (
            len(linked) + len(meta_line) + 2 + MIN_SNIPPET <= budget
        ):
            heading = linked
    lines = [heading, meta_line]
    room = min(SNIPPET_LIMIT, budget - len(heading) - len(meta_line) - 2)
    snippet = snippet_markdown(hit.snippet)
    if snippet and room >= MIN_SNIPPET:
        lines.append(cut_snippet(snippet, room))
    return "\n".join(lines)


def render_results(results: SearchResults) -> Message:
    """One page of results: linked titles, feed, relative time and bold-word snippets; the
    filters on top, which results these are in the footer."""
    page = results.page
    labels = results.request.filter_labels()
    filters = " · ".join(shown(label) for label in labels)
    head = _("Filters: {filters}", filters=filters) if labels else ""
    budget = (EMBED_DESCRIPTION_LIMIT - len(head) - 2) // max(1, len(page.hits)) - 2
    blocks = [_hit_block(results.first_number + i, hit, budget) for i, hit in enumerate(page.hits)]
    description = "\n\n".join(([head] if head else []) + blocks)[:EMBED_DESCRIPTION_LIMIT]
    last = results.first_number + len(page.hits) - 1
    first = results.first_number
    if page.total is None:
        footer = _("Results {first}–{last}", first=first, last=last)
    else:
        footer = _("Results {first}–{last} of {total}", first=first, last=last, total=page.total)
    if page.recent_only:
        footer += " · " + _("many matches: the best of the newest {window:,}", window=page.window)
    title = fit_text("🔎 " + one_line(results.request.text), QUERY_SHOWN_LIMIT)
    embed = Embed(title=title, description=description, footer=footer)
    return Message(embeds=(embed,))


def render_search(results: SearchResults) -> Message:
    """The answer to a search: its page of results, or the query, then why there is none and
    what to try."""
    if not results.page.empty:
        return render_results(results)
    query = fit_text(one_line(results.request.text), QUERY_SHOWN_LIMIT)
    answer = shown(empty_answer(results))
    return Message(content=f"🔎 {query}\n{answer}" if query else answer)


def render_latest(rows: list[ItemRow]) -> Message:
    """The newest items as compact cards, newest first (the rows in that order)."""
    if not rows:
        return Message(
            content=_(
                "Nothing to show yet: this server follows no feeds with items "
                "(an admin can add one with `/feed add`)."
            )
        )
    return Message(
        content=ngettext("The {count} newest item:", "The {count} newest items:", len(rows)),
        embeds=tuple(render_compact(item_view(row)) for row in rows),
    )


def render_shared(row: ItemRow, member_id: int) -> Message:
    """A result a member posts to a channel: the feed post's card, saying who shared it (the
    mention is shown, never a ping: the Message allows none). In the channel's language: the
    cog renders it under the guild's locale."""
    return Message(
        content=_("Shared by {member} from `/search`", member=f"<@{member_id}>"),
        embeds=(render_card(item_view(row)),),
    )
