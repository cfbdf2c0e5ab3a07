"""`/search` and `/latest`: thin adapters to the search service; answers are ephemeral.

A search answer pages with Previous / Next (only the searcher can use them), shares a result
publicly with "Post to channel" (rendered like a feed post, pinging no one), and opens with
"Related" the view `/related` gives for a result of the page (`RelatedView`: both cogs use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import discord
from discord import app_commands

from bot.delivery.discord_message import send_kwargs
from bot.features.related.render import render_related
from bot.features.related.service import RelatedAnswer
from bot.features.search import render
from bot.features.search.service import (
    LATEST_DEFAULT,
    LATEST_MAX,
    SearchInputError,
    SearchResults,
    SearchService,
)
from bot.i18n import N_, _, use_locale
from cogs._common import (
    GuildCog,
    Interaction,
    MemberView,
    choice_label,
    guild_feed_choices,
    guild_of,
    reply,
    settle,
)

if TYPE_CHECKING:
    from bot.app import DigestBot

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFER_AFTER_S = 1.0  # an answer not ready by then is deferred ("thinking…"); Discord allows 3 s
VIEW_TIMEOUT_S = 14 * 60.0  # an interaction token lasts 15 minutes: stop before it expires
NOT_YOURS = N_("Only the person who searched can page these results or share them.")
SINCE_SUGGESTIONS = (
    (N_("last 7 days"), "7d"),
    (N_("last 2 weeks"), "2w"),
    (N_("last month"), "1m"),
    (N_("last 3 months"), "3m"),
    (N_("last year"), "1y"),
)
NO_LONGER_HERE = N_("That item is no longer in this server's feeds.")


async def in_time(interaction: Interaction, work: Awaitable[T], *, update: bool = False) -> T:
    """Await `work`; if it is not done within DEFER_AFTER_S, defer the interaction meanwhile
    (ephemeral "thinking…" for a command, a silent update for a button) so Discord's 3-second
    window never closes on a slow query."""
    task = asyncio.ensure_future(work)
    try:
        done, _pending = await asyncio.wait({task}, timeout=DEFER_AFTER_S)
        if not done and not interaction.response.is_done():
            await interaction.response.defer(ephemeral=not update, thinking=not update)
        return await task
    except BaseException:
        task.cancel()
        raise


RELATED_NOT_YOURS = N_("Only the person who asked can page these related items.")


async def show_page(interaction: Interaction, page: dict[str, Any]) -> None:
    """Replace the message the component is on (through the token if the click was deferred)."""
    if interaction.response.is_done():
        await interaction.edit_original_response(**page)
    else:
        await interaction.response.edit_message(**page)


class OwnedPages(MemberView):
    """Previous / Next under one member's answer: only that member can use them (the others
    get `not_yours`); they go away before the interaction's token expires."""

    not_yours: str

    def __init__(self, origin: Interaction) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        self.origin = origin  # its token edits the answer
        self.previous_page.label = _("Previous")  # in the member's language (the command's task)
        self.next_page.label = _("Next")

    async def member_check(self, interaction: Interaction, /) -> bool:
        if interaction.user.id == self.origin.user.id:
            return True
        await interaction.response.send_message(_(self.not_yours), ephemeral=True)
        return False

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, row=0)
    async def previous_page(
        self, interaction: Interaction, button: discord.ui.Button[OwnedPages]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, row=0)
    async def next_page(
        self, interaction: Interaction, button: discord.ui.Button[OwnedPages]
    ) -> None:
        await self._turn(interaction, 1)

    async def _turn(self, interaction: Interaction, step: int) -> None:
        raise NotImplementedError

    async def on_timeout(self) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.origin.edit_original_response(view=None)


class RelatedView(OwnedPages):
    """Previous / Next under one member's related items (all ten are already known)."""

    not_yours = RELATED_NOT_YOURS

    def __init__(self, origin: Interaction, answer: RelatedAnswer) -> None:
        super().__init__(origin)
        self.answer = answer
        self._show_page()

    def _show_page(self) -> None:
        self.previous_page.disabled = self.answer.page_index == 0
        self.next_page.disabled = self.answer.page_index >= self.answer.pages - 1

    async def _turn(self, interaction: Interaction, step: int) -> None:
        self.answer = self.answer.turned(step)
        self._show_page()
        await show_page(interaction, send_kwargs(render_related(self.answer)) | {"view": self})


def related_view(origin: Interaction, answer: RelatedAnswer) -> RelatedView | None:
    """Paging buttons when the answer has more than one page."""
    return RelatedView(origin, answer) if answer.pages > 1 else None


class RelatedPicker(MemberView):
    """What a search page's "Related" button opens: a menu of the page's results; the chosen
    one's related items replace the menu (the message is ephemeral: only the searcher sees it)."""

    def __init__(self, origin: Interaction, results: SearchResults) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        self.origin = origin  # the button's interaction: its answer is this menu's message
        menu = cast(discord.ui.Select[RelatedPicker], self.pick)
        menu.options = result_options(results)
        menu.placeholder = _("Related: pick a result…")

    @discord.ui.select(placeholder="Related: pick a result…")
    async def pick(
        self, interaction: Interaction, select: discord.ui.Select[RelatedPicker]
    ) -> None:
        guild = interaction.guild
        if guild is None or not select.values:
            return
        related = interaction.client.runtime.related
        item = await interaction.client.runtime.search.shared_item(guild.id, int(select.values[0]))
        if item is None:
            await reply(interaction, _(NO_LONGER_HERE))
            return
        answer = await in_time(
            interaction, related.of_item(guild.id, item, item.title), update=True
        )
        page = send_kwargs(render_related(answer)) | {"view": related_view(self.origin, answer)}
        await show_page(interaction, page)
        self.stop()


def result_options(results: SearchResults) -> list[discord.SelectOption]:
    """A menu option per result of the page: its number and title, its feed."""
    untitled = _("(untitled)")
    return [
        discord.SelectOption(
            label=choice_label(
                _(
                    "{number}. {title}",
                    number=results.first_number + i,
                    title=hit.title or untitled,
                )
            ),
            description=choice_label(hit.feed_title) or None,
            value=str(hit.item_id),
        )
        for i, hit in enumerate(results.page.hits)
    ]


class SearchResultsView(OwnedPages):
    """Previous / Next and "Post to channel" under one member's search results."""

    not_yours = NOT_YOURS

    def __init__(self, service: SearchService, origin: Interaction, results: SearchResults) -> None:
        super().__init__(origin)
        self.service = service
        self.results = results
        self.related.label = _("Related")
        cast(discord.ui.Select[SearchResultsView], self.share).placeholder = _(
            "Post to channel: pick a result to share…"
        )
        self._show_page()

    def _show_page(self) -> None:
        self.previous_page.disabled = self.results.page_index == 0
        self.next_page.disabled = not self.results.page.has_more
        menu = cast(discord.ui.Select[SearchResultsView], self.share)
        menu.options = result_options(self.results)

    @discord.ui.button(label="Related", style=discord.ButtonStyle.secondary, row=0)
    async def related(
        self, interaction: Interaction, button: discord.ui.Button[SearchResultsView]
    ) -> None:
        await interaction.response.send_message(
            _("Which result's related items?"),
            view=RelatedPicker(interaction, self.results),
            ephemeral=True,
        )

    async def _turn(self, interaction: Interaction, step: int) -> None:
        work = self.service.run(self.results.request, self.results.page_index + step)
        results = await in_time(interaction, work, update=True)
        if results.page.empty:  # the archive changed under the member: stay on this page
            await reply(interaction, _("There are no more results."))
            return
        self.results = results
        self._show_page()
        await show_page(interaction, send_kwargs(render.render_results(results)) | {"view": self})

    @discord.ui.select(placeholder="Post to channel: pick a result to share…", row=1)
    async def share(
        self, interaction: Interaction, select: discord.ui.Select[SearchResultsView]
    ) -> None:
        guild = interaction.guild
        channel = interaction.channel
        if guild is None or not select.values:
            return
        row = await self.service.shared_item(guild.id, int(select.values[0]))
        if row is None:
            await reply(interaction, _(NO_LONGER_HERE))
            return
        if not isinstance(channel, discord.abc.Messageable):
            await reply(interaction, _("I can't post in this channel."))
            return
        in_thread = isinstance(channel, discord.Thread)
        # The bot posts on the member's behalf: not where they could not post themselves
        # (a read-only announcements channel still lets members use commands).
        member = interaction.permissions
        if not (member.send_messages_in_threads if in_thread else member.send_messages):
            await reply(interaction, _("You can't post in this channel, so I can't share it here."))
            return
        perms = interaction.app_permissions
        can_send = perms.send_messages_in_threads if in_thread else perms.send_messages
        if not (perms.view_channel and can_send and perms.embed_links):
            await reply(
                interaction,
                _(
                    "I can't post here: I need **{view}**, **{send}** and **{embed}** in this "
                    "channel.",
                    view=_("View Channel"),
                    send=_("Send Messages"),
                    embed=_("Embed Links"),
                ),
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_locale = interaction.guild_locale
        with use_locale(guild_locale.value if guild_locale is not None else None):
            shared = render.render_shared(row, interaction.user.id)  # the channel's language
        try:
            posted = await channel.send(**send_kwargs(shared))
        except discord.HTTPException as exc:
            log.info("sharing item %d in %s failed: %s", row.id, getattr(channel, "id", "?"), exc)
            await reply(interaction, _("Sorry, I couldn't post that here."))
            return
        await reply(interaction, _("Posted: {link}", link=posted.jump_url))
        # Clear the menu's choice so the same result can be shared again.
        with contextlib.suppress(discord.HTTPException):
            await self.origin.edit_original_response(view=self)

    async def on_error(  # type: ignore[override]
        self, interaction: Interaction, error: Exception, item: discord.ui.Item[SearchResultsView]
    ) -> None:
        log.exception("search results button failed", exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            await reply(interaction, _("Sorry, something went wrong. Please search again."))


class SearchCog(GuildCog):
    async def _since_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        choices = [
            app_commands.Choice(name=f"{_(label)} ({value})", value=value)
            for label, value in SINCE_SUGGESTIONS
            if not typed or typed in label or typed in _(label) or value.startswith(typed)
        ]
        label = choice_label(current)
        if label and not any(c.value == typed for c in choices):
            choices.insert(0, app_commands.Choice(name=label, value=current.strip()[:100]))
        return choices[:25]

    @app_commands.command(name="search", description="Search every newsletter this server follows")
    @app_commands.guild_only()
    @app_commands.describe(
        query='Words to find (all must match); "a phrase", -leave_out, this OR that',
        feed="Only this feed",
        since="Only items since: 7d, 2w, 3m, or a date like 2024-05-01",
        author="Only items whose author contains this",
    )
    @app_commands.autocomplete(feed=guild_feed_choices, since=_since_choices)
    async def search(
        self,
        interaction: Interaction,
        query: str,
        feed: str | None = None,
        since: str | None = None,
        author: str | None = None,
    ) -> None:
        service = self.runtime.search
        work = service.search(
            guild_of(interaction).id, query, feed=feed, since=since, author=author
        )
        try:
            results = await in_time(interaction, work)
        except SearchInputError as exc:
            await reply(interaction, exc.message)
            return
        view = None if results.page.empty else SearchResultsView(service, interaction, results)
        await reply(interaction, render.render_search(results), view)

    @app_commands.command(name="latest", description="The newest items of this server's feeds")
    @app_commands.guild_only()
    @app_commands.describe(
        feed="Only this feed",
        count=f"How many items (1–{LATEST_MAX}, default {LATEST_DEFAULT})",
    )
    @app_commands.autocomplete(feed=guild_feed_choices)
    async def latest(
        self,
        interaction: Interaction,
        feed: str | None = None,
        count: app_commands.Range[int, 1, LATEST_MAX] = LATEST_DEFAULT,
    ) -> None:
        work = self.runtime.search.latest(guild_of(interaction).id, feed=feed, count=count)
        await settle(interaction, in_time(interaction, work), render.render_latest)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(SearchCog(bot))
