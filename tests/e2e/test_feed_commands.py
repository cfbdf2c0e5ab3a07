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
