"""/feed commands end to end: the real bot, discord.py, the fake Discord, a loopback feed."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer, rss_feed

HOSTILE_TITLE = "@everyone free nitro <@&123> <@456>"


def newsletter(*titles: str) -> str:
    items = [
        {
            "title": title,
            "link": f"https://letter.example.com/p/{n}",
            "guid": f"post-{n}",
            "description": f"Subtitle of {title}",
            "content": f"<p>{title} opening paragraph with enough words to summarize.</p>",
            "pubDate": f"Mon, 0{n + 1} Jan 2024 10:00:00 GMT",
        }
        for n, title in enumerate(titles)
    ]
    return rss_feed(list(reversed(items)), title="The Letter", link="https://letter.example.com/")


async def test_feed_add_posts_backfill_and_new_items_without_pings(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/feed.xml", newsletter("First", "Second"))
    async with running_bot(tmp_path, fake):
        handle = await fake.invoke_command(
            "feed add",
            {"url": feed_server.url("/feed.xml"), "channel": world.news_id, "backfill": 1},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        answer = await handle.final_message(timeout=10)
        assert answer.ephemeral
        assert "The Letter" in answer.content and f"<#{world.news_id}>" in answer.content
        (first,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        assert first.embeds[0]["title"] == "Second"
        assert first.allowed_mentions == {"parse": []}

        feed_server.set("/feed.xml", newsletter("First", "Second", HOSTILE_TITLE))
        posts = await fake.wait_for_messages(world.news_id, 2, timeout=15)
        hostile = posts[1]
        assert "free nitro" in hostile.embeds[0]["title"]
        assert not hostile.pinged.anyone
        assert hostile.allowed_mentions == {"parse": []}
        assert len(fake.bot_posts(world.news_id)) == 2


async def test_a_repeated_feed_add_keeps_mode_and_role_and_names_a_discovered_feed(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    readers = fake.state.add_role(world.guild_id, "Readers", mentionable=True)
    feed_server.set("/feed", newsletter("First"))
    feed_server.set(
        "/about", "<html><body>No feed link on this page.</body></html>", content_type="text/html"
    )

    async def feed_add(options: dict[str, object]) -> str:
        handle = await fake.invoke_command(
            "feed add",
            {"channel": world.news_id, **options},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        answer = await handle.final_message(timeout=10)
        assert answer.ephemeral and not answer.pinged.anyone
        return answer.content

    async with running_bot(tmp_path, fake) as bot:
        store = bot.runtime.store
        url = feed_server.url("/feed")
        first = await feed_add({"url": url, "mode": "digest", "mention": readers.id})
        assert "Following **The Letter**" in first and "(digest mode)" in first
        (feed,) = await store.feeds.all()

        again = await feed_add({"url": url})
        assert "Already following **The Letter**" in again
        assert f"Nothing changed. Kept: digest mode; role ping <@&{readers.id}>." in again
        sub = await store.subscriptions.find(world.news_id, feed.id)
        assert sub is not None and (sub.mode, sub.mention_role_id) == ("digest", readers.id)

        # A page with no feed link: discovery finds the host's /feed, already followed here.
        found = await feed_add({"url": feed_server.url("/about")})
        assert found.startswith(f"Found the feed **The Letter** at <{feed.url}>.")
        assert "Nothing changed." in found
        sub = await store.subscriptions.find(world.news_id, feed.id)
        assert sub is not None and (sub.mode, sub.mention_role_id) == ("digest", readers.id)
        assert fake.bot_posts(world.news_id) == []  # digest mode: nothing was posted
