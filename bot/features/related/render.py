"""`/related`, rendered once as a `Message`: the seed item with its summary, then one page of
its related items (linked title, feed, date, a line of summary). Feed text passes bot.safe."""

from __future__ import annotations

from bot.features.posts.render import feed_name, item_title
from bot.features.posts.views import item_view
from bot.features.related.service import RelatedAnswer
from bot.i18n import _
from bot.model import EMBED_DESCRIPTION_LIMIT, Embed, ItemRow, Message
from bot.safe import discord_timestamp, fit_text, link_target, one_line, safe_url, shown, truncate

TITLE_LIMIT = 120
FEED_LIMIT = 60
SUMMARY_LIMIT = 300
SEED_SUMMARY_LIMIT = 600
ASKED_LIMIT = 200


def _block(number: int, row: ItemRow) -> str:
    item = item_view(row)
    title = fit_text(item_title(item), TITLE_LIMIT)
    url = safe_url(item.url)
    heading = f"**{number}. [{title}]({link_target(url)})**" if url else f"**{number}. {title}**"
    meta = f"{fit_text(feed_name(item), FEED_LIMIT)} · {discord_timestamp(item.published, 'D')}"
    summary = fit_text(one_line(item.summary), SUMMARY_LIMIT)
    return "\n".join([heading, meta] + ([summary] if summary else []))


def render_related(answer: RelatedAnswer) -> Message:
    """One page of the answer; or, when the item is not in the archive, a sentence saying so."""
    if answer.item is None:
        asked = truncate(shown(answer.asked), ASKED_LIMIT)
        return Message(
            content=_(
                "**{asked}** is not in this server's archive. "
                "Pick an item from the list, or paste its link.",
                asked=asked,
            )
        )
    seed = item_view(answer.item)
    head = f"{fit_text(feed_name(seed), FEED_LIMIT)} · {discord_timestamp(seed.published, 'D')}"
    summary = fit_text(one_line(seed.summary), SEED_SUMMARY_LIMIT)
    lines = [head] + ([summary] if summary else [])
    if not answer.related:
        lines.append("\n" + _("Nothing in this server's archive is close enough to this item."))
        footer = None
    else:
        lines.append("\n**" + _("Related") + "**")
        lines += [_block(answer.first_number + i, row) for i, row in enumerate(answer.page)]
        last = answer.first_number + len(answer.page) - 1
        footer = _(
            "Related {first}–{last} of {total}",
            first=answer.first_number,
            last=last,
            total=len(answer.related),
        )
    url = safe_url(seed.url)
    embed = Embed(
        title=fit_text("🔗 " + item_title(seed), TITLE_LIMIT),
        url=link_target(url) if url else None,
        description=truncate("\n".join(lines), EMBED_DESCRIPTION_LIMIT),
        footer=footer,
    )
    return Message(embeds=(embed,))
