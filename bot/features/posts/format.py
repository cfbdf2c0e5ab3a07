"""A subscription's post format (`/feed format`): the card, a compact line, or only the admin's
template, with placeholders such as `{title}` or `{excerpt:300}` (at most 300 characters).

Feed text enters a placeholder through the gate (bot.safe): it never pings and shows its own
markdown literally; `{excerpt}` is markdown bot.text.excerpt made safe. The rendered message
always fits Discord's limits: the longest texts are cut at a word first, with "…".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.features.posts.render import (
    feed_name,
    format_duration,
    item_image_url,
    item_title,
    media_kind,
    render_card,
)
from bot.i18n import _
from bot.model import (
    CONTENT_LIMIT,
    EMBED_TITLE_LIMIT,
    POST_STYLES,
    ItemView,
    Message,
    PostFormat,
)
from bot.safe import (
    discord_timestamp,
    fit_text,
    link_target,
    one_line,
    safe_url,
    strip_control,
    truncate,
)
from bot.text.excerpt import cut_markdown

PLACEHOLDERS = (
    "title", "link", "summary", "excerpt", "author", "feed", "published", "image", "duration",
    "audio",
)  # fmt: skip
MAX_TEMPLATE_CHARS = 1500
# What `text` posts when the admin gave no template, and an uncapped {excerpt}'s length.
DEFAULT_TEXT_TEMPLATE = "**{title}**\n{link}"
EXCERPT_DEFAULT_CHARS = 1000
_SLOT = re.compile(r"\{([^{}]*)\}")
_NAME_CAP = re.compile(r"^\s*([a-z]+)\s*(?::\s*(\d{1,4})\s*)?$")
# Texts cut first when a message would be too long (URLs and timestamps are never cut).
_SHRINKABLE = ("excerpt", "summary", "title", "author", "feed")


class TemplateError(ValueError):
    """The template cannot be used; `message` says why, for the admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    cap: int | None  # at most this many characters


def parse_template(template: str) -> list[str | Slot]:
    """The template's literal text and placeholders, in order (TemplateError: unusable)."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            _("A template is at most {limit} characters.", limit=MAX_TEMPLATE_CHARS)
        )
    valid = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    parts: list[str | Slot] = []
    at = 0
    for match in _SLOT.finditer(template):
        parts.append(template[at : match.start()])
        at = match.end()
        found = _NAME_CAP.match(match.group(1))
        if found is None or found.group(1) not in PLACEHOLDERS:
            shown = one_line(match.group(0))[:40].replace("`", "'")
            raise TemplateError(
                _(
                    "{found} is not a placeholder. Use {valid}, optionally with a length cap "
                    "such as {example}.",
                    found=f"`{shown}`",
                    valid=valid,
                    example="{excerpt:300}",
                )
            )
        cap = int(found.group(2)) if found.group(2) else None
        if cap is not None and cap < 1:
            raise TemplateError(
                _("A length cap is at least 1, e.g. {example}.", example="{excerpt:300}")
            )
        parts.append(Slot(found.group(1), cap))
    parts.append(template[at:])
    return [part for part in parts if part != ""]


def check_format(style: str, template: str | None) -> PostFormat:
    """The format to keep for `style` and `template` (TemplateError: unusable)."""
    found = next((s for s in POST_STYLES if s == style), None)
    if found is None:
        raise TemplateError(_("The style is one of {styles}.", styles=", ".join(POST_STYLES)))
    text = strip_control(template).strip() if template else ""
    if text:
        parse_template(text)
    return PostFormat(found, text or None)


def needs_excerpt(post_format: PostFormat) -> bool:
    return post_format.template is not None and any(
        isinstance(part, Slot) and part.name == "excerpt"
        for part in parse_template(post_format.template)
    )


def _value(item: ItemView, slot: Slot, excerpt: str, limit: int | None = None) -> str:
    """A placeholder's text for `item`, at most `limit` (then the slot's cap) characters."""
    cap = min((c for c in (slot.cap, limit) if c is not None), default=None)
    name = slot.name
    if name == "excerpt" and excerpt:
        return cut_markdown(excerpt, cap if cap is not None else EXCERPT_DEFAULT_CHARS)
    if name in ("summary", "excerpt"):
        return fit_text(item.summary, cap if cap is not None else EXCERPT_DEFAULT_CHARS)
    if name == "title":
        return fit_text(item_title(item), cap if cap is not None else EMBED_TITLE_LIMIT)
    if name == "author":
        return fit_text(one_line(item.author or ""), cap if cap is not None else 100)
    if name == "feed":
        return fit_text(feed_name(item), cap if cap is not None else 100)
    if name == "published":
        text = discord_timestamp(item.published, "f")
    elif name == "duration":
        text = format_duration(item.duration_s) if item.duration_s else ""
    else:
        url = {
            "link": safe_url(item.url),
            "image": item_image_url(item),
            "audio": safe_url(item.enclosure_url) if media_kind(item) else None,
        }[name]
        text = url or ""
    # A URL or a timestamp cut short is broken: left out instead.
    return text if cap is None or len(text) <= cap else ""


def fill_template(item: ItemView, template: str, excerpt: str, room: int) -> str:
    """The template with `item`'s values, at most `room` characters: the longest feed texts
    are cut at a word first, the whole text last."""
    parts = parse_template(template)
    values = [p if isinstance(p, str) else _value(item, p, excerpt) for p in parts]
    for name in _SHRINKABLE:
        for i, part in enumerate(parts):
            over = sum(map(len, values)) - room
            if over > 0 and isinstance(part, Slot) and part.name == name:
                values[i] = _value(item, part, excerpt, max(0, len(values[i]) - over))
    return truncate("".join(values).strip(), room)


def _compact_line(item: ItemView) -> str:
    """`[Title](link) · Feed · <t:…:R>`: Discord's own link preview does the rest."""
    title = fit_text(item_title(item), EMBED_TITLE_LIMIT)
    url = safe_url(item.url)
    head = f"[{title}]({link_target(url)})" if url else f"**{title}**"
    return f"{head} · {fit_text(feed_name(item), 100)} · {discord_timestamp(item.published, 'R')}"


def render_formatted(
    item: ItemView,
    post_format: PostFormat,
    *,
    excerpt: str = "",
    mention_role_id: int | None = None,
    related: Sequence[ItemView] = (),
) -> Message:
    """The post for a subscription with `post_format`. The template, when there is one, is the
    message text of every style: `text` posts only it, `card` puts it above the card, `compact`
    before the line. The only ping it can make is the opted-in role."""
    role = None if mention_role_id is None else f"<@&{mention_role_id}>"
    compact = _compact_line(item) if post_format.style == "compact" else None
    room = CONTENT_LIMIT - sum(len(part) + 1 for part in (role, compact) if part)
    template = post_format.template
    if post_format.style == "text" and template is None:
        template = DEFAULT_TEXT_TEMPLATE
    lines = [role] if role else []
    if template:
        lines.append(fill_template(item, template, excerpt, room))
    if compact:
        lines.append(compact)
    content = "\n".join(line for line in lines if line) or None
    if post_format.style == "text":
        if content is None or content == role:  # every placeholder was empty: say what it is
            content = "\n".join([*lines, _compact_line(item)])
        return Message(content=content, mention_role_id=mention_role_id)
    embeds = (render_card(item, related=related),) if post_format.style == "card" else ()
    return Message(content=content, embeds=embeds, mention_role_id=mention_role_id)
