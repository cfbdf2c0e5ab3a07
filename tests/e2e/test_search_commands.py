"""/search and /latest end to end: the real bot, discord.py, the fake Discord, loopback feeds."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.app import DigestBot
from bot.features.search.render import MARKDOWN_TOKEN, cut_snippet, render_results
from bot.features.search.service import PAGE_SIZE, SearchRequest, SearchResults, SearchService
from bot.model import EMBED_DESCRIPTION_LIMIT as DESCRIPTION_LIMIT
from bot.model import EMBED_TITLE_LIMIT as TITLE_LIMIT
from bot.model import EMBED_TOTAL_LIMIT, SearchHit
from bot.store.search import SearchPage, display_snippet
from cogs.search import NOT_YOURS
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, Overwrite, StandardGuild, StoredMessage
from tests.fakediscord.permissions import SEND_MESSAGES
from tests.feedserver import FeedServer, rss_feed

HOSTILE_TITLE = "@everyone Rust giveaway <@&123> <@456> **bold** [x](javascript:alert(1))"


def feed_xml(name: str, titles: list[str]) -> str:
    """An RSS feed whose items (given oldest first) mention rust, one day apart."""
    items = [
        {
            "title": title,
            "link": f"https://{name}.example.com/p/{n}",
            "guid": f"{name}-{n}",
            "description": f"{title}: a note about rust and paging",
            "content": f"<p>{title}. This post is about rust, paging and search.</p>",
            "pubDate": f"{['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][n % 7]}, "
            f"{n + 1:02d} Jan 2024 10:00:00 GMT",
            "author": f"writer{n % 2}@{name}.example.com (Writer {n % 2})",
        }
        for n, title in enumerate(titles)
    ]
    return rss_feed(
        list(reversed(items)), title=f"{name.title()} Letter", link=f"https://{name}.example.com/"
    )


async def subscribe(
    bot: DigestBot, feed_server: FeedServer, world: StandardGuild, name: str, titles: list[str]
) -> None:
    feed_server.set(f"/{name}.xml", feed_xml(name, titles))
    await bot.runtime.subscriptions.subscribe(
        guild_id=world.guild_id,
        channel_id=world.news_id,
        url=feed_server.url(f"/{name}.xml"),
        backfill=0,
    )


async def search(
    fake: FakeDiscord, world: StandardGuild, options: dict[str, Any], user_id: int | None = None
) -> StoredMessage:
    handle = await fake.invoke_command(
        "search",
        options,
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=user_id or world.member_id,
    )
    answer = await handle.final_message(timeout=5)
    assert answer.ephemeral
    assert not handle.errors
    return answer


def description(message: StoredMessage) -> str:
    assert message.embeds, message.content
    return str(message.embeds[0].get("description", ""))


def component(message: StoredMessage, *, label: str | None = None, kind: int = 2) -> dict[str, Any]:
    for row in message.components:
        for item in row["components"]:
            if item["type"] == kind and (label is None or item.get("label") == label):
                return dict(item)
    raise AssertionError(f"no component {label or kind} in {message.components}")


async def test_a_guild_searches_only_its_own_feeds(
    tmp_path: Path, store_target: str, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    guild_a = fake.state.add_standard_guild("A")
    guild_b = fake.state.add_standard_guild("B")
    async with running_bot(tmp_path, fake, db_path=store_target) as bot:
        await subscribe(bot, feed_server, guild_a, "alpha", ["Alpha rust one", "Alpha rust two"])
        await subscribe(bot, feed_server, guild_b, "beta", ["Beta rust secret"])
        seen_a = description(await search(fake, guild_a, {"query": "rust"}))
        assert "Alpha rust one" in seen_a and "Alpha rust two" in seen_a
        assert "Beta" not in seen_a
        assert "**rust**" in seen_a  # the matched word is bold in the snippet
        assert "<t:" in seen_a and ":R>" in seen_a  # Discord timestamps
        assert "](https://alpha.example.com/p/" in seen_a  # titles are links
        seen_b = description(await search(fake, guild_b, {"query": "rust"}))
        assert "Beta rust secret" in seen_b and "Alpha" not in seen_b

        # Filters: author, since; and no results says so and suggests dropping one.
        by_writer = description(
            await search(fake, guild_a, {"query": "rust", "author": "Writer 1"})
        )
        assert "Alpha rust two" in by_writer and "Alpha rust one" not in by_writer
        none = await search(fake, guild_a, {"query": "rust", "since": "7d"})
        assert not none.embeds and "No results" in none.content
        assert "dropping a filter" in none.content
        bad = await search(fake, guild_a, {"query": "rust", "since": "last tuesday"})
        assert "7d" in bad.content and "2024-05-01" in bad.content

        # The feed option lists (and accepts) only this guild's feeds.
        handle = await fake.invoke_autocomplete(
            "search",
            "feed",
            {"query": "rust", "feed": ""},
            guild_id=guild_a.guild_id,
            channel_id=guild_a.general_id,
            user_id=guild_a.member_id,
        )
        choices = await handle.choices()
        assert [c["name"] for c in choices] == ["Alpha Letter"]
        handle = await fake.invoke_autocomplete(
            "latest",
            "feed",
            {"feed": "bet"},
            guild_id=guild_a.guild_id,
            channel_id=guild_a.general_id,
            user_id=guild_a.member_id,
        )
        assert await handle.choices() == []
        beta_id = (await bot.runtime.store.subscriptions.feed_ids_for_guild(guild_b.guild_id))[0]
        refused = await search(fake, guild_a, {"query": "rust", "feed": str(beta_id)})
        assert "doesn't follow" in refused.content and not refused.embeds
        alpha_only = await search(fake, guild_a, {"query": "rust", "feed": choices[0]["value"]})
        assert "Alpha rust one" in description(alpha_only)


async def test_paging_only_for_the_invoker_and_sharing_one_result(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    titles = [f"Paging post {n:02d}" for n in range(22)] + [HOSTILE_TITLE]
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "pages", titles)
        first = await search(fake, world, {"query": "paging"})
        assert description(first).count("**1. ") == 1 and "**10. " in description(first)
        assert "**11. " not in description(first)
        assert "Results 1–10 of 23" in first.embeds[0]["footer"]["text"]
        previous, next_ = component(first, label="Previous"), component(first, label="Next")
        assert previous.get("disabled") and not next_.get("disabled")

        # Someone else clicking Next is told no, and the page does not move.
        intruder = await fake.invoke_component(first, next_["custom_id"], world.admin_id)
        refusal = await intruder.final_message()
        assert refusal.ephemeral and refusal.content == NOT_YOURS
        assert "**1. " in description(first)

        page2 = await (
            await fake.invoke_component(first, next_["custom_id"], world.member_id)
        ).final_message()
        assert "**11. " in description(page2) and "**20. " in description(page2)
        page3 = await (
            await fake.invoke_component(page2, next_["custom_id"], world.member_id)
        ).final_message()
        assert "**21. " in description(page3) and "**23. " in description(page3)
        assert component(page3, label="Next").get("disabled")
        back = await (
            await fake.invoke_component(page3, previous["custom_id"], world.member_id)
        ).final_message()
        assert "**11. " in description(back)

        # Post to channel: the hostile item, rendered as a feed post, pinging nobody.
        menu = component(back, kind=3)
        assert [o["label"][:4] for o in menu["options"]][:2] == ["11. ", "12. "]
        assert len(menu["options"]) == 10
        hostile = await search(fake, world, {"query": "giveaway"})
        menu = component(hostile, kind=3)
        (option,) = menu["options"]
        assert "giveaway" in option["label"]
        shared = await fake.invoke_component(
            hostile, menu["custom_id"], world.member_id, component_type=3, values=[option["value"]]
        )
        confirmation = await shared.final_message()
        assert confirmation.ephemeral and "Posted" in confirmation.content
        (post,) = await fake.wait_for_messages(world.general_id, 1, timeout=5)
        assert "giveaway" in post.embeds[0]["title"]
        assert post.allowed_mentions == {"parse": []}
        assert not post.pinged.anyone
        assert post.embeds[0]["url"] == f"https://pages.example.com/p/{len(titles) - 1}"

        # Sharing in a channel where the bot cannot post is a clear answer, not an error.
        handle = await fake.invoke_command(
            "search",
            {"query": "giveaway"},
            guild_id=world.guild_id,
            channel_id=world.no_send_id,
            user_id=world.member_id,
        )
        elsewhere = await handle.final_message()
        refused = await (
            await fake.invoke_component(
                elsewhere,
                component(elsewhere, kind=3)["custom_id"],
                world.member_id,
                component_type=3,
                values=[option["value"]],
            )
        ).final_message()
        assert refused.ephemeral and "Send Messages" in refused.content
        assert fake.messages(world.no_send_id) == []


async def test_a_slow_search_is_deferred_then_answered(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    real_run = SearchService.run
    deferred = asyncio.Event()  # the search goes on only once the answer was deferred

    async def slow_run(self: SearchService, *args: Any, **kwargs: Any) -> SearchResults:
        await asyncio.wait_for(deferred.wait(), 10)
        return await real_run(self, *args, **kwargs)

    monkeypatch.setattr(SearchService, "run", slow_run)
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "alpha", [f"Alpha rust {n}" for n in range(12)])
        # load_extension imports the cog afresh: patch the module the bot runs.
        monkeypatch.setattr(sys.modules["cogs.search"], "DEFER_AFTER_S", 0.05)
        handle = await fake.invoke_command(
            "search",
            {"query": "rust"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.member_id,
        )
        assert await handle.response_type() == 5  # deferred: "thinking…"
        deferred.set()
        answer = await handle.final_message()
        assert answer.ephemeral and "**10. " in description(answer)
        assert not handle.errors


async def test_hostile_queries_get_an_answer(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "alpha", ["Alpha rust one", "Near rust tools"])
        hostile = ['"', "*", "NEAR(", "rust OR", "-", "rust " * 400, "🦀 emoji", "\x00", "-rust"]
        for query in hostile:
            answer = await search(fake, world, {"query": query})
            if answer.embeds:
                assert "rust" in description(answer).lower(), query
            else:
                assert answer.content and "went wrong" not in answer.content, query
        near = description(await search(fake, world, {"query": "NEAR(rust"}))
        assert "Near rust tools" in near and "Alpha rust one" not in near
        assert "no searchable words" in (await search(fake, world, {"query": "*"})).content
        assert "exclude" in (await search(fake, world, {"query": "-rust"})).content
        # Upper-case AND / NOT work as people write them elsewhere: AND is implied, NOT excludes.
        not_near = description(await search(fake, world, {"query": "rust AND tools"}))
        assert "Near rust tools" in not_near and "Alpha rust one" not in not_near
        alpha = description(await search(fake, world, {"query": "rust NOT tools"}))
        assert "Alpha rust one" in alpha and "Near rust tools" not in alpha


async def test_latest_lists_the_newest_items_as_compact_embeds(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    other = fake.state.add_standard_guild("Other")
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "alpha", [f"Alpha {n}" for n in range(12)])
        await subscribe(bot, feed_server, other, "beta", ["Beta 0"])

        async def latest(options: dict[str, Any], guild: StandardGuild) -> StoredMessage:
            handle = await fake.invoke_command(
                "latest",
                options,
                guild_id=guild.guild_id,
                channel_id=guild.general_id,
                user_id=guild.member_id,
            )
            answer = await handle.final_message(timeout=5)
            assert answer.ephemeral
            return answer

        default = await latest({}, world)
        assert [e["title"] for e in default.embeds] == [f"Alpha {n}" for n in (11, 10, 9, 8, 7)]
        assert all("<t:" in e["description"] for e in default.embeds)
        three = await latest({"count": 3}, world)
        assert [e["title"] for e in three.embeds] == ["Alpha 11", "Alpha 10", "Alpha 9"]
        ten = await latest({"count": 10}, world)
        assert len(ten.embeds) == 10
        assert [e["title"] for e in (await latest({}, other)).embeds] == ["Beta 0"]
        empty = fake.state.add_standard_guild("Empty")
        fake.add_bot_to_guild(empty.guild_id)
        nothing = await latest({}, empty)
        assert not nothing.embeds and "/feed add" in nothing.content


def _balanced(markdown: str) -> bool:
    """Every `**` that is not escaped is closed again."""
    return len([t for t in MARKDOWN_TOKEN.findall(markdown) if t == "**"]) % 2 == 0


def test_results_embed_fits_discord_limits_with_hostile_hits() -> None:
    snippet = display_snippet(("\x02rust\x03 and *stars* \\ back_slash " * 40) + "@everyone")
    hits = [
        SearchHit(
            item_id=n,
            feed_id=1,
            title=("@everyone **[x](javascript:1)** " * 30) + str(n),
            url="https://example.com/" + "a(b)" * 500,
            feed_title="F" * 300,
            author="<@123> " * 60,
            published_at=1_700_000_000.0 + n,
            snippet=snippet,
        )
        for n in range(PAGE_SIZE)
    ]
    request = SearchRequest(1, "rust " * 300, None, None, "7d", "a" * 200)
    page = SearchPage(hits, 0, PAGE_SIZE, True, None, recent_only=True, window=1000)
    results = SearchResults(request, page, 0, True)
    message = render_results(results)
    (embed,) = message.embeds
    assert embed.description is not None and len(embed.description) <= DESCRIPTION_LIMIT
    assert embed.size() <= EMBED_TOTAL_LIMIT and len(embed.title or "") <= TITLE_LIMIT
    blocks = embed.description.split("\n\n")
    assert len(blocks) == PAGE_SIZE + 1  # the filters line, then ten results
    for number, block in enumerate(blocks[1:], start=1):
        assert block.startswith(f"**{number}. ") and _balanced(block), block
        assert "**rust**" in block  # every result keeps a snippet with the bold word
    assert "@everyone" not in embed.description.replace("@\u200beveryone", "")
    assert "<@123>" not in embed.description
    assert "newest 1,000" in (embed.footer or "")


def test_cut_snippet_never_splits_escapes_or_leaves_bold_open() -> None:
    text = r"a \*star\* and **bold words here** then \\ end"
    for limit in range(1, len(text) + 2):
        cut = cut_snippet(text, limit)
        assert len(cut) <= max(limit, 1) or cut == "…"
        assert _balanced(cut), (limit, cut)
        assert not re.search(r"(?<!\\)(\\\\)*\\…$", cut), (limit, cut)
    assert cut_snippet(text, len(text)) == text


async def test_a_member_cannot_share_into_a_channel_they_cannot_post_in(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    """A read-only channel (announcements): members may use commands there but not post, so
    "Post to channel" must not let the bot post for them."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    read_only = fake.state.add_text_channel(
        world.guild_id,
        "announcements",
        overwrites=[
            Overwrite.role(world.everyone_role_id, deny=SEND_MESSAGES),
            Overwrite.role(world.bot_role_id, allow=SEND_MESSAGES),
        ],
    )
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "alpha", ["Alpha rust one"])
        handle = await fake.invoke_command(
            "search",
            {"query": "rust"},
            guild_id=world.guild_id,
            channel_id=read_only.id,
            user_id=world.member_id,
        )
        answer = await handle.final_message(timeout=5)
        (option,) = component(answer, kind=3)["options"]
        refused = await (
            await fake.invoke_component(
                answer,
                component(answer, kind=3)["custom_id"],
                world.member_id,
                component_type=3,
                values=[option["value"]],
            )
        ).final_message()
        assert refused.ephemeral and "You can't post" in refused.content
        assert fake.messages(read_only.id) == []
