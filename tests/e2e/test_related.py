"""Related items end to end: the real bot, discord.py, the fake Discord and a loopback feed
whose items come from known topic clusters. A new item's post names earlier items of its
topic on a Related line; /related pages through the ten closest; only the asker pages."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.app import DigestBot
from cogs.search import RELATED_NOT_YOURS as NOT_YOURS
from tests.e2e.harness import running_bot
from tests.e2e.test_search_commands import component, description
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.feedserver import FeedServer, rss_feed
from tests.integration.related_fixtures import FILLER, TOPICS

SITE = "https://clusters.example.com"
FEED_PATH = "/clusters.xml"


def entry(rng: random.Random, n: int, topic: str) -> dict[str, Any]:
    words = TOPICS[topic].split()
    title = " ".join(rng.sample(words, 3) + rng.sample(FILLER, 3)).title()
    body = rng.choices(words, k=12) + rng.choices(FILLER, k=40)
    rng.shuffle(body)
    return {
        "title": f"{title} {n}",
        "link": f"{SITE}/{topic}/{n}",
        "guid": f"{topic}-{n}",
        "content": f"<p>{' '.join(body)}</p>",
        "pubDate": f"Mon, {1 + n // 24:02d} Jan 2024 {n % 24:02d}:00:00 GMT",
    }


def letter(entries: list[dict[str, Any]]) -> str:
    return rss_feed(list(reversed(entries)), title="Cluster Letter", link=f"{SITE}/")


async def ask(fake: FakeDiscord, world: StandardGuild, user_id: int, item: str) -> StoredMessage:
    handle = await fake.invoke_command(
        "related",
        {"item": item},
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=user_id,
    )
    answer = await handle.final_message(timeout=10)
    assert answer.ephemeral and not handle.errors and not answer.pinged.anyone
    return answer


async def test_posts_name_related_items_and_related_pages_through_ten(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    rng = random.Random(16)
    # 12 items of each of three topics, interleaved, oldest first.
    archive = [entry(rng, n, ("chess", "coffee", "bees")[n % 3]) for n in range(36)]
    feed_server.set(FEED_PATH, letter(archive))
    async with running_bot_with_feed(tmp_path, fake, feed_server, world) as bot:
        [seed] = await bot.runtime.store.why.items_by_url([f"{SITE}/chess/0"], None)

        first = await ask(fake, world, world.member_id, f"item:{seed.id}")
        page1 = description(first)
        assert "**1. [" in page1 and "**5. [" in page1 and "**6. " not in page1
        assert page1.count(f"]({SITE}/chess/") == 5 and f"{SITE}/coffee/" not in page1
        assert first.embeds[0]["footer"]["text"] == "Related 1–5 of 10"
        previous, next_ = component(first, label="Previous"), component(first, label="Next")
        assert previous.get("disabled") and not next_.get("disabled")

        intruder = await fake.invoke_component(first, next_["custom_id"], world.admin_id)
        assert (await intruder.final_message()).content == NOT_YOURS

        second = await (
            await fake.invoke_component(first, next_["custom_id"], world.member_id)
        ).final_message()
        page2 = description(second)
        assert "**6. [" in page2 and "**10. [" in page2 and "**1. " not in page2
        assert page2.count(f"]({SITE}/chess/") == 5
        assert component(second, label="Next").get("disabled")

        # Words find the item too (as /why resolves them); an unknown link says so.
        by_words = await ask(fake, world, world.member_id, archive[0]["title"])
        assert by_words.embeds[0]["url"] == f"{SITE}/chess/0"
        unknown = await ask(fake, world, world.member_id, f"{SITE}/nothing/1")
        assert "not in this server's archive" in unknown.content

        # A search page's Related button opens the same view for a result picked from it.
        handle = await fake.invoke_command(
            "search",
            {"query": "endgame"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.member_id,
        )
        results = await handle.final_message(timeout=10)
        button = component(results, label="Related")
        picker = await (
            await fake.invoke_component(results, button["custom_id"], world.member_id)
        ).final_message()
        assert picker.ephemeral
        menu = component(picker, kind=3)
        option = menu["options"][0]
        chosen = await (
            await fake.invoke_component(
                picker,
                menu["custom_id"],
                world.member_id,
                component_type=3,
                values=[option["value"]],
            )
        ).final_message()
        assert chosen.embeds[0]["footer"]["text"] == "Related 1–5 of 10"
        assert description(chosen).count(f"]({SITE}/chess/") == 5
        assert "/chess/" in chosen.embeds[0]["url"]
        turned = await (
            await fake.invoke_component(
                chosen, component(chosen, label="Next")["custom_id"], world.member_id
            )
        ).final_message()
        assert "**6. [" in description(turned)

        # A new chess item is posted with a Related line of earlier chess items.
        feed_server.set(FEED_PATH, letter([*archive, entry(rng, 40, "chess")]))
        (post,) = await fake.wait_for_messages(world.news_id, 1, timeout=20)
        fields = {f["name"]: f["value"] for f in post.embeds[0].get("fields", [])}
        related = fields["Related"].splitlines()
        assert len(related) == 3
        assert all(f"]({SITE}/chess/" in line and ":D>" in line for line in related)


async def test_a_post_about_nothing_known_has_no_related_line(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    rng = random.Random(7)
    archive = [entry(rng, n, ("chess", "coffee")[n % 2]) for n in range(20)]
    feed_server.set(FEED_PATH, letter(archive))
    async with running_bot_with_feed(tmp_path, fake, feed_server, world):
        odd = entry(rng, 30, "vinyl")  # about records, with two chess words in passing
        odd["content"] = odd["content"].replace("</p>", " endgame gambit</p>")
        feed_server.set(FEED_PATH, letter([*archive, odd]))
        (post,) = await fake.wait_for_messages(world.news_id, 1, timeout=20)
        assert post.embeds[0]["url"] == f"{SITE}/vinyl/30"
        assert "Related" not in {f["name"] for f in post.embeds[0].get("fields", [])}


@contextlib.asynccontextmanager
async def running_bot_with_feed(
    tmp_path: Path, fake: FakeDiscord, feed_server: FeedServer, world: StandardGuild
) -> AsyncIterator[DigestBot]:
    """The bot, following the cluster feed in #news with its archive not posted."""
    async with running_bot(tmp_path, fake) as bot:
        await bot.runtime.subscriptions.subscribe(
            guild_id=world.guild_id,
            channel_id=world.news_id,
            url=feed_server.url(FEED_PATH),
            backfill=0,
        )
        yield bot
