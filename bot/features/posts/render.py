"""Render one item as a Message: the card a channel gets, and the compact form lists use.

Every piece of feed text passes bot.safe: neutralized (no pings), escaped where Discord would
render markdown, truncated on a word to Discord's limits; only http(s) URLs become links/images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.i18n import N_, _
from bot.model import (
    EMBED_AUTHOR_LIMIT,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELD_VALUE_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    Embed,
    EmbedField,
    ItemView,
    Message,
    SearchHit,
)
from bot.safe import (
    discord_timestamp,
    fit_text,
    link_target,
    one_line,
    safe_url,
)

UNTITLED = N_("(untitled)")  # translated where shown: _(UNTITLED)
# A compact embed stays under this many counted characters, so ten fit in one message.
COMPACT_MAX_CHARS = EMBED_TOTAL_LIMIT // EMBEDS_PER_MESSAGE
COMPACT_TITLE_LIMIT = 200
COMPACT_SUMMARY_LIMIT = 200
# An author shown in a line of details (lists, results, digests) is cut to this.
AUTHOR_LINE_LIMIT = 60
RELATED_TITLE_LIMIT = 90  # a title on a card's Related line


def format_duration(seconds: int) -> str:
    """`H:MM:SS` from one hour up, `M:SS` below."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def feed_name(item: ItemView) -> str:
    """The feed's title, or its host when the feed has none."""
    return one_line(item.feed_title) or one_line(item.site_url or item.feed_url) or _("feed")


def item_title(item: ItemView) -> str:
    return one_line(item.title) or _(UNTITLED)


def item_image_url(item: ItemView) -> str | None:
    image = safe_url(item.image_url)
    if image is None and (item.enclosure_type or "").lower().startswith("image/"):
        image = safe_url(item.enclosure_url)
    return image


MediaItem = ItemView | SearchHit  # what `item_details` reads


@dataclass(frozen=True, slots=True)
class ItemDetails:
    """An item's by-line and podcast details, rendered once for every view that shows an
    item: the card shows `fields` and the by-line in its footer; lists, search results and
    digests show `line`."""

    author: str  # feed text on one line, not yet made safe; '' when the item names nobody
    fields: tuple[EmbedField, ...]  # Duration, then Listen/Watch with a markdown link

    @property
    def by(self) -> str | None:
        """ "by Jane Doe" for a footer (which renders no markdown: neutralized, not escaped)."""
        if not self.author:
            return None
        return fit_text(_("by {author}", author=self.author), EMBED_AUTHOR_LIMIT, markdown=False)

    def line(self, *, author_limit: int = AUTHOR_LINE_LIMIT) -> str:
        """`by Jane Doe · Duration: 1:02:05 · Listen: [Audio (mp3)](url)`; '' when none."""
        author = fit_text(self.author, author_limit)
        parts = [_("by {author}", author=author)] if self.author else []
        parts += [f"{f.name}: {f.value}" for f in self.fields]
        return " · ".join(parts)


def media_kind(item: MediaItem) -> str | None:
    """ "audio", "video" or None for an item's enclosure (no type + a duration means audio)."""
    kind = (item.enclosure_type or "").split("/", 1)[0].strip().lower()
    if kind in ("audio", "video"):
        return kind
    return "audio" if not kind and item.duration_s else None


def item_details(item: MediaItem, *, link_limit: int = EMBED_FIELD_VALUE_LIMIT) -> ItemDetails:
    """By-line, duration, and `[Audio (mp3)](url)` for the enclosure when it has a safe URL
    whose link fits `link_limit`."""
    author = one_line(item.author or "")
    kind = media_kind(item)
    if kind is None:
        return ItemDetails(author, ())
    fields = []
    if item.duration_s:
        fields.append(EmbedField(_("Duration"), format_duration(item.duration_s)))
    url = safe_url(item.enclosure_url)
    subtype = (item.enclosure_type or "").partition("/")[2].split(";")[0].strip().lower()
    subtype = subtype.removeprefix("x-").replace("mpeg", "mp3")
    label = _("Audio") if kind == "audio" else _("Video")
    label += f" ({subtype})" if subtype.isalnum() else ""
    link = f"[{label}]({link_target(url)})" if url else ""
    if link and len(link) <= min(link_limit, EMBED_FIELD_VALUE_LIMIT):
        fields.append(EmbedField(_("Listen") if kind == "audio" else _("Watch"), link))
    return ItemDetails(author, tuple(fields))


def related_field(related: Sequence[ItemView]) -> EmbedField | None:
    """The card's "Related" field: one line per earlier item, its linked title and its date
    (None: no related items). Items without a safe link are named without one."""
    lines: list[str] = []
    for other in related:
        title = fit_text(item_title(other), RELATED_TITLE_LIMIT)
        url = safe_url(other.url)
        linked = f"[{title}]({link_target(url)})" if url else title
        line = f"{linked} · {discord_timestamp(other.published, 'D')}"
        if sum(len(x) + 1 for x in lines) + len(line) > EMBED_FIELD_VALUE_LIMIT:
            break
        lines.append(line)
    return EmbedField(_("Related"), "\n".join(lines)) if lines else None


def render_card(
    item: ItemView, *, also_in: Sequence[Source] = (), related: Sequence[ItemView] = ()
) -> Embed:
    """The full card for one item: linked title, summary, feed, author, image, timestamp,
    podcast details; fields for `also_in` (the other feeds that carried the same story) and
    `related` (earlier items about the same thing, already chosen)."""
    details = item_details(item)
    fields = details.fields
    if also_in:
        fields += (EmbedField(name=_("Also in"), value=also_in_text(also_in), inline=False),)
    if (related_line := related_field(related)) is not None:
        fields += (related_line,)
    card = Embed(
        title=fit_text(item_title(item), EMBED_TITLE_LIMIT),
        url=safe_url(item.url),
        # Author name and footer never render markdown: neutralized, not escaped.
        author=fit_text(feed_name(item), EMBED_AUTHOR_LIMIT, markdown=False),
        author_url=safe_url(item.site_url) or safe_url(item.feed_url),
        footer=details.by,
        image_url=item_image_url(item),
        timestamp=item.published,
        fields=fields,
    )
    summary = item.summary.strip()
    if not summary:
        return card
    room = min(EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - card.size())
    return replace(card, description=fit_text(summary, room) or None)


def render_post(
    item: ItemView,
    *,
    mention_role_id: int | None = None,
    also_in: Sequence[Source] = (),
) -> Message:
    """The post for a channel subscription. The only ping it can make is the opted-in role.
    `also_in`: the other feeds that carried the same story (the post is edited to add them)."""
    role = None if mention_role_id is None else f"<@&{mention_role_id}>"
    card = render_card(item, also_in=also_in)
    return Message(content=role, embeds=(card,), mention_role_id=mention_role_id)


#: At most this many other feeds are named under a post that carried one story.
ALSO_IN_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Source:
    """Another feed that carried a post's story: its name and its item's link."""

    feed_name: str
    url: str | None


def also_in_text(sources: Sequence[Source]) -> str:
    """`[Feed B](link), [Feed C](link)`: up to `ALSO_IN_LIMIT` sources, each name escaped and
    shortened so the text always fits an embed field."""
    room = EMBED_FIELD_VALUE_LIMIT // ALSO_IN_LIMIT - 2
    names: list[str] = []
    for source in sources[:ALSO_IN_LIMIT]:
        url = safe_url(source.url)
        name_room = room - (len(link_target(url)) + 4 if url else 0)
        if name_room < 20:
            url, name_room = None, room
        name = fit_text(one_line(source.feed_name), name_room) or _(UNTITLED)
        names.append(f"[{name}]({link_target(url)})" if url else name)
    return _(", ").join(names)


def render_compact(item: ItemView) -> Embed:
    """A small card for lists (/latest): linked title, feed, relative time, the item's details
    and a one-line summary; at most `COMPACT_MAX_CHARS` counted characters, so ten fit a
    message (a long audio link is left out first, then the summary shortened)."""
    title = fit_text(item_title(item), COMPACT_TITLE_LIMIT)
    header = f"{fit_text(feed_name(item), 100)} · {discord_timestamp(item.published, 'R')}"
    details = item_details(item).line()
    if len(title) + len(header) + len(details) + 1 > COMPACT_MAX_CHARS:
        details = item_details(item, link_limit=0).line()
    head = f"{header}\n{details}" if details else header
    room = COMPACT_MAX_CHARS - len(title) - len(head) - 1
    summary = fit_text(one_line(item.summary), min(COMPACT_SUMMARY_LIMIT, room))
    return Embed(
        title=title,
        url=safe_url(item.url),
        description=f"{head}\n{summary}" if summary else head,
    )
