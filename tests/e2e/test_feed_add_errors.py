"""/feed commands refuse politely: members without Manage Server, bad URLs, pages without a
feed, private addresses and channels the bot cannot post in each get a clear ephemeral answer
and nothing is added. Also: /feed remove (autocomplete scoped to the guild), /feed list and
/feed status (health).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.app import DigestBot
from bot.store.db import scalar
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.feedserver import FeedServer, rss_feed

FEED_PATH = "/feed.xml"


def small_feed(title: str) -> str:
    return rss_feed(
        [{"title": f"{title} post", "link": f"https://{title.lower()}.example.com/1", "guid": "1"}],
        title=title,
        link=f"https://{title.lower()}.example.com/",
    )


async def command(
    fake: FakeDiscord,
    world: StandardGuild,
    name: str,
    options: dict[str, Any],
    *,
    user_id: int | None = None,
) -> StoredMessage:
    """Invoke `/name` in #general (by the admin unless `user_id`); the answer, checked to be
    ephemeral and ping-free."""
    handle = await fake.invoke_command(
        name,
        options,
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=world.admin_id if user_id is None else user_id,
    )
    answer = await handle.final_message(timeout=10)
    assert answer.ephemeral
    assert not answer.pinged.anyone
    return answer


async def subscription_count(bot: DigestBot) -> int:
    return int(await scalar(bot.runtime.store.db.reader, "SELECT count(*) FROM subscriptions"))


async def test_a_member_without_manage_server_cannot_add_feeds(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, small_feed("Letter"))
    options = {"url": feed_server.url(FEED_PATH), "channel": world.news_id}
    async with running_bot(tmp_path, fake) as bot:
        (synced,) = [c for c in fake.commands() if c["name"] == "feed"]
        assert synced["default_member_permissions"] == str(1 << 5)  # Manage Server
        with pytest.raises(PermissionError):  # Discord hides the command from the member
            await fake.invoke_command(
                "feed add",
                options,
                guild_id=world.guild_id,
                channel_id=world.general_id,
                user_id=world.member_id,
                respect_default_permissions=True,
            )
        # An admin may have shown it to everyone; the run-time check still refuses.
        answer = await command(fake, world, "feed add", options, user_id=world.member_id)
        assert "Manage Server" in answer.content
        assert await subscription_count(bot) == 0
        assert feed_server.hits(FEED_PATH) == 0
        assert fake.bot_posts(world.news_id) == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", "not a url"),
        ("ftp://x", "ftp"),
        ("http://10.0.0.1/feed", "10.0.0.1 is on a private network"),
        ("javascript:alert(1)", "is a javascript: link, not a web address; only http://"),
        ("http://example.com:port/feed", "a feed URL looks like https://example.com/feed"),
        ("http://169.254.169.254/latest/meta-data", "metadata service"),
    ],
)
async def test_a_bad_or_private_url_gets_a_clear_answer_and_nothing_is_fetched(
    tmp_path: Path, fake_discord: FakeDiscord, url: str, words: str
) -> None:
    """The netguard fixture fails the test if anything tried to connect off loopback."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake) as bot:
        answer = await command(fake, world, "feed add", {"url": url, "channel": world.news_id})
        assert "couldn't add that feed" in answer.content
        assert words.lower() in answer.content.lower()
        assert await subscription_count(bot) == 0
        assert await bot.runtime.store.feeds.all() == []


async def test_a_page_without_a_feed_gets_a_clear_answer(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(
        "/blog",
        "<!doctype html><html><head><title>A blog</title></head>"
        "<body><p>Hello, no feed links here.</p></body></html>",
        content_type="text/html; charset=utf-8",
    )
    async with running_bot(tmp_path, fake) as bot:
        answer = await command(
            fake, world, "feed add", {"url": feed_server.url("/blog"), "channel": world.news_id}
        )
        assert "couldn't add that feed" in answer.content
        assert "no RSS or Atom feed found" in answer.content
        assert await subscription_count(bot) == 0


@pytest.mark.parametrize(
    ("channel", "missing"),
    [
        ("no_view_id", "View Channel"),
        ("no_send_id", "Send Messages"),
        ("no_embed_id", "Embed Links"),
        ("no_history_id", "Read Message History"),
    ],
)
async def test_a_channel_the_bot_cannot_post_in_is_refused_naming_what_is_missing(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    channel: str,
    missing: str,
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    channel_id = int(getattr(world, channel))
    feed_server.set(FEED_PATH, small_feed("Letter"))
    async with running_bot(tmp_path, fake) as bot:
        answer = await command(
            fake, world, "feed add", {"url": feed_server.url(FEED_PATH), "channel": channel_id}
        )
        assert f"<#{channel_id}>" in answer.content
        assert missing in answer.content
        assert await subscription_count(bot) == 0
        assert feed_server.hits(FEED_PATH) == 0  # refused before fetching anything
    assert fake.count("POST", rf"/channels/{channel_id}/messages$") == 0


async def test_feed_remove_autocompletes_only_this_guilds_feeds_and_removes_one(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    home = fake.state.add_standard_guild("Home")
    away = fake.state.add_standard_guild("Away")
    for name in ("Alpha", "Apex", "Bravo"):
        feed_server.set(f"/{name}.xml", small_feed(name))
    async with running_bot(tmp_path, fake) as bot:
        for world, name in ((home, "Alpha"), (home, "Apex"), (away, "Bravo")):
            options = {"url": feed_server.url(f"/{name}.xml"), "channel": world.news_id}
            assert name in (await command(fake, world, "feed add", options)).content

        async def choices(world: StandardGuild, typed: str) -> dict[str, str]:
            handle = await fake.invoke_autocomplete(
                "feed remove",
                "feed",
                {"feed": typed},
                guild_id=world.guild_id,
                channel_id=world.general_id,
                user_id=world.admin_id,
            )
            return {str(c["name"]): str(c["value"]) for c in await handle.choices(timeout=10)}

        assert sorted(await choices(home, "")) == ["Alpha", "Apex"]
        assert sorted(await choices(home, "ap")) == ["Apex"]
        assert sorted(await choices(away, "")) == ["Bravo"]
        assert await choices(home, "bravo") == {}
        bravo = (await choices(away, ""))["Bravo"]

        refused = await command(fake, home, "feed remove", {"feed": bravo})
        assert "doesn't follow a feed by that name" in refused.content
        assert await subscription_count(bot) == 3

        apex = (await choices(home, "apex"))["Apex"]
        removed = await command(fake, home, "feed remove", {"feed": apex})
        assert "Removed" in removed.content
        assert sorted(await choices(home, "")) == ["Alpha"]
        listing = await command(fake, home, "feed list", {})
        description = str(listing.embeds[0]["description"])
        assert "Alpha" in description and "Apex" not in description and "Bravo" not in description
        assert await subscription_count(bot) == 2


async def test_feed_list_and_status_show_a_failing_feeds_health(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/good.xml", small_feed("Good"))
    feed_server.set("/flaky.xml", small_feed("Flaky"))
    async with running_bot(tmp_path, fake) as bot:
        for name in ("good", "flaky"):
            options = {"url": feed_server.url(f"/{name}.xml"), "channel": world.news_id}
            await command(fake, world, "feed add", options)
        feed_server.set("/flaky.xml", "down for maintenance", status=503, content_type="text/plain")
        polls = feed_server.hits("/flaky.xml")
        await fake.wait_until(lambda: feed_server.hits("/flaky.xml") > polls, timeout=10)
        store = bot.runtime.store

        async def failing() -> bool:
            return any(f.consecutive_errors for f in await store.feeds.all())

        await until(failing, what="the flaky feed's first failure")
        listing = await command(fake, world, "feed list", {})
        lines = str(listing.embeds[0]["description"]).splitlines()
        (good,) = [line for line in lines if "Good" in line]
        (flaky,) = [line for line in lines if "Flaky" in line]
        assert good.endswith("ok")
        assert "failing since <t:" in flaky
        assert re.search(r"\((1 error|[2-9] errors): the server answered 503 Service Unav", flaky)

        status = await command(fake, world, "feed status", {"feed": "Flaky"})
        assert re.search(r"^Consecutive errors: [12]$", status.content, re.MULTILINE)
        assert "Last error: the server answered 503 Service Unavailable" in status.content
        assert re.search(r"^Last poll: <t:\d+:R>$", status.content, re.MULTILINE)
        assert re.search(r"^Next poll: <t:\d+:R>$", status.content, re.MULTILINE)
        assert f"<#{world.news_id}>" in status.content


async def test_an_unexpected_failure_is_answered_once_politely(
    tmp_path: Path, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake) as bot:

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("database is on fire")

        monkeypatch.setattr(bot.runtime.subscriptions, "for_guild", broken)
        handle = await fake.invoke_command(
            "feed list",
            {},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        answer = await handle.final_message(timeout=10)
        assert answer.ephemeral and "something went wrong" in answer.content
        assert "on fire" not in answer.content
        # A later command answered: the bot is past the failed one and its error handler.
        later = await fake.invoke_command(
            "latest",
            {},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        await later.final_message(timeout=10)
        assert len(handle.messages) == 1
