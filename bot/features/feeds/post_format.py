"""`/feed format` (how a channel's posts of a feed look) and `/feed preview` (exactly what the
next post will look like, made from the feed's newest item by the outbox's own call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.features.feeds.subscription_filter import channel_subscription
from bot.features.posts.compose import subscription_post
from bot.features.posts.format import TemplateError, check_format
from bot.features.posts.mention import post_mention
from bot.features.posts.views import item_view
from bot.i18n import _, current_locale, use_locale
from bot.model import GuildFeed, Message, PostFormat
from bot.safe import fit_text, shown
from bot.store import Store

# The language of a channel: (channel id, guild id) -> locale (Languages.for_channel).
ChannelLocale = Callable[[int, int | None], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class FormatChange:
    feed: GuildFeed
    channel_id: int
    previous: PostFormat
    current: PostFormat


async def change_format(
    store: Store,
    feed: GuildFeed,
    channel_id: int | None,
    *,
    style: str | None,
    template: str | None,
    reset: bool,
    now: float,
) -> FormatChange:
    """Options given replace the channel's; left out, they are kept (`reset`: back to the
    card, then the options given). Checked before anything is kept (TemplateError)."""
    subscription = await channel_subscription(store, feed, channel_id, TemplateError)
    previous = await store.subscriptions.post_format(subscription.id)
    base = PostFormat() if reset else previous
    current = check_format(style or base.style, base.template if template is None else template)
    if current != previous:
        await store.subscriptions.set_format(subscription.id, current, now)
    return FormatChange(feed, subscription.channel_id, previous, current)


async def preview_post(
    store: Store,
    feed: GuildFeed,
    channel_id: int | None,
    channel_locale: ChannelLocale | None = None,
) -> Message | None:
    """The next post of the feed in the channel, made from its newest item (None: no items).
    It names the role a post would ping, but pings no one itself. The post is in the channel's
    language (`channel_locale`), as it will be posted; the words around it are the member's."""
    subscription = await channel_subscription(store, feed, channel_id, TemplateError)
    locale = (
        await channel_locale(subscription.channel_id, subscription.guild_id)
        if channel_locale is not None
        else current_locale()
    )
    newest = await store.items.latest([feed.feed_id], 1)
    if not newest:
        return None
    when = await store.subscriptions.mention_when(subscription.id)
    role = await post_mention(store, newest[0].id, subscription.mention_role_id, when)
    with use_locale(locale):
        post = await subscription_post(
            store,
            subscription.id,
            item_view(newest[0]),
            mention_role_id=role,
            guild_id=subscription.guild_id,
        )
    if post.identity is not None:  # an ephemeral answer comes from the bot: say whose it is
        shown_as = "-# " + _(
            "Posted as **{name}**, through the channel's webhook",
            name=shown(post.identity.name or ""),
        )
        post = replace(post, content=f"{shown_as}\n{post.content}".rstrip("\n"))
    return replace(post, mention_role_id=None, identity=None)


def render_format(change: FormatChange, *, channel: str) -> Message:
    current = change.current
    if current.is_default:
        what = _("the card (the default)")
    else:
        what = _("the **{style}** style", style=_(current.style))
    names = {"feed": f"**{shown(change.feed.title or change.feed.url)}**", "channel": channel}
    if change.current != change.previous:
        lines = [_("{feed} posts in {channel} as {what}.", what=what, **names)]
    else:
        lines = [_("{feed} posts in {channel} as {what} (unchanged).", what=what, **names)]
    if current.template:
        template = fit_text(current.template, 1500, markdown=False).replace("`", "'")
        lines.append(_("Template: {template}", template=f"`{template}`"))
    lines.append(_("See the next post with `/feed preview`."))
    return Message(content="\n".join(lines))


def render_no_preview(feed: GuildFeed) -> Message:
    return Message(
        content=_(
            "**{title}** has no items yet, so there is nothing to preview.",
            title=shown(feed.title or feed.url),
        )
    )
