"""`/feed identity mode:webhook`: a channel's posts of a feed go out through the bot's own
webhook there, under the feed's name (or the admin's) and avatar, through the real bot and the
fake Discord (which refuses names containing "discord"/"clyde" as Discord does)."""

from __future__ import annotations

from pathlib import Path

from bot.app import DigestBot
from tests.e2e.harness import running_bot
from tests.e2e.test_delivery_e2e import add_feed
from tests.e2e.test_feed_mention_and_test_post import admin_command
from tests.fakediscord import FakeDiscord, Overwrite, StandardGuild, StoredMessage, permissions
from tests.feedserver import FeedServer, rss_feed

FEED_PATH = "/letter.xml"
WEBHOOKS = r"/channels/\d+/webhooks$"
AVATAR = "https://letter.example.com/logo.png"


def letter(titles: list[str], *, title: str = "The Letter", image: str | None = None) -> str:
    """An RSS feed of `titles`, oldest first (`image`: the feed's own <image>)."""
    items: list[dict[str, object]] = [
        {
            "title": item,
            "guid": f"post-{n}",
            "link": f"https://letter.example.com/p/{n}",
            "description": f"Notes about {item}",
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, item in enumerate(titles)
    ]
    channel_image = (
        f"<image><url>{image}</url><title>{title}</title><link>https://letter.example.com/</link>"
        "</image>"
        if image
        else ""
    )
    return rss_feed(list(reversed(items)), title=title, extra_channel=channel_image)


def allow_manage_webhooks(fake: FakeDiscord, world: StandardGuild, channel_id: int) -> None:
    fake.set_overwrite(
        channel_id, Overwrite.role(world.bot_role_id, allow=permissions.MANAGE_WEBHOOKS)
    )


def titles(posts: list[StoredMessage]) -> list[str]:
    return [str(p.embeds[0]["title"]) for p in posts if p.embeds]


async def feed_id_of(bot: DigestBot, guild_id: int) -> str:
    (view,) = await bot.runtime.subscriptions.for_guild(guild_id)
    return str(view.subscription.feed_id)


async def test_webhook_posts_carry_the_feeds_name_and_the_given_avatar(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    allow_manage_webhooks(fake, world, world.news_id)
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id_of(bot, world.guild_id)
        answer = await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook", "avatar": AVATAR},
        )
        assert "**The Letter**" in answer.content and "webhook" in answer.content

        feed_server.set(FEED_PATH, letter(["Hello", "Second post", "Third post"]))
        await fake.wait_until(lambda: len(fake.webhook_posts(world.news_id)) >= 2, timeout=15)
        posts = fake.webhook_posts(world.news_id)
        assert titles(posts) == ["Second post", "Third post"]
        assert {p.webhook_username for p in posts} == {"The Letter"}
        assert {p.webhook_avatar_url for p in posts} == {AVATAR}
        assert not any(p.pinged.anyone for p in posts)
        assert fake.bot_posts(world.news_id) == []  # none went out as the bot
        (webhook,) = fake.webhooks.of_channel(world.news_id)  # one webhook, made once, reused
        assert {p.webhook_id for p in posts} == {webhook.id}
        assert fake.count("POST", WEBHOOKS) == 1
        # The token is a secret: no answer to the admin shows it.
        assert webhook.token not in answer.content
        # The preview says whose name the next post goes out under.
        preview = await admin_command(
            fake, world, "feed preview", {"feed": feed, "channel": world.news_id}
        )
        assert preview.content.startswith("-# Posted as **The Letter**, through the channel's")
        assert preview.embeds == posts[-1].embeds

        # Back to the bot: the next post is the bot's own again.
        back = await admin_command(
            fake, world, "feed identity", {"feed": feed, "channel": world.news_id, "mode": "bot"}
        )
        assert "from me again" in back.content
        feed_server.set(FEED_PATH, letter(["Hello", "Second post", "Third post", "Fourth"]))
        await fake.wait_for_messages(world.news_id, 3, timeout=15)
        assert titles(fake.bot_posts(world.news_id)) == ["Fourth"]


async def test_without_an_avatar_webhook_posts_show_the_feeds_own_image(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    allow_manage_webhooks(fake, world, world.news_id)
    logo = "https://letter.example.com/logo-square.png"
    feed_server.set(FEED_PATH, letter(["Hello"], image=logo))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id_of(bot, world.guild_id)
        answer = await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook"},
        )
        assert "feed's own image" in answer.content
        feed_server.set(FEED_PATH, letter(["Hello", "News"], image=logo))
        await fake.wait_until(lambda: bool(fake.webhook_posts(world.news_id)), timeout=15)
        (post,) = fake.webhook_posts(world.news_id)
        assert (post.webhook_username, post.webhook_avatar_url) == ("The Letter", logo)


async def test_a_name_discord_refuses_is_posted_as_a_safe_variant(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    allow_manage_webhooks(fake, world, world.news_id)
    feed_server.set(FEED_PATH, letter(["Hello"], title="Discord Weekly @everyone"))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id_of(bot, world.guild_id)
        await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook"},
        )
        feed_server.set(FEED_PATH, letter(["Hello", "News"], title="Discord Weekly @everyone"))
        await fake.wait_until(lambda: bool(fake.webhook_posts(world.news_id)), timeout=15)
        (post,) = fake.webhook_posts(world.news_id)
        assert post.webhook_username == "Disc0rd Weekly everyone"
        assert not post.pinged.anyone

        # The admin's own name, with "clyde" in it, is shown as the variant posts carry.
        answer = await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook", "name": "Clyde's corner"},
        )
        assert "**C1yde's corner**" in answer.content and "variant" in answer.content
        feed_server.set(
            FEED_PATH, letter(["Hello", "News", "More"], title="Discord Weekly @everyone")
        )
        await fake.wait_until(lambda: len(fake.webhook_posts(world.news_id)) >= 2, timeout=15)
        assert fake.webhook_posts(world.news_id)[-1].webhook_username == "C1yde's corner"


async def test_a_deleted_webhook_is_made_again_once_and_without_manage_webhooks_the_feed_pauses(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    allow_manage_webhooks(fake, world, world.news_id)
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id_of(bot, world.guild_id)
        await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook"},
        )
        feed_server.set(FEED_PATH, letter(["Hello", "One"]))
        await fake.wait_until(lambda: bool(fake.webhook_posts(world.news_id)), timeout=15)
        (first,) = fake.webhook_posts(world.news_id)
        assert first.webhook_id is not None

        fake.delete_webhook(first.webhook_id)  # an admin removes it in the channel's settings
        feed_server.set(FEED_PATH, letter(["Hello", "One", "Two"]))
        await fake.wait_until(lambda: len(fake.webhook_posts(world.news_id)) >= 2, timeout=15)
        second = fake.webhook_posts(world.news_id)[-1]
        assert titles([second]) == ["Two"]
        assert second.webhook_id != first.webhook_id
        assert fake.count("POST", WEBHOOKS) == 2  # made again once

        # Removed again, and now I may not make one: the feed pauses there, with a notice.
        assert second.webhook_id is not None
        fake.delete_webhook(second.webhook_id)
        fake.set_overwrite(
            world.news_id, Overwrite.role(world.bot_role_id, deny=permissions.MANAGE_WEBHOOKS)
        )
        feed_server.set(FEED_PATH, letter(["Hello", "One", "Two", "Three"]))
        notices = await fake.wait_for_dms(world.admin_id, 1, timeout=15)
        assert "Manage Webhooks" in notices[0].content and "<#" in notices[0].content
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert view.subscription.paused
        assert titles(fake.webhook_posts(world.news_id)) == ["One", "Two"]
        assert fake.bot_posts(world.news_id) == []


async def test_a_webhook_of_mine_the_store_forgot_is_reused_not_made_again(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    allow_manage_webhooks(fake, world, world.news_id)
    # Someone else's webhook in the channel is never used.
    fake.webhooks.create(world.news_id, {"name": "digestbot feeds"}).creator_id = world.admin_id
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id_of(bot, world.guild_id)
        await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook"},
        )
        feed_server.set(FEED_PATH, letter(["Hello", "One"]))
        await fake.wait_until(lambda: bool(fake.webhook_posts(world.news_id)), timeout=15)
        (first,) = fake.webhook_posts(world.news_id)
        assert first.webhook_id is not None
        # A crash right after Discord made it, before it was saved: the store forgets it.
        await bot.runtime.store.webhooks.forget_webhook(world.news_id, first.webhook_id)
        feed_server.set(FEED_PATH, letter(["Hello", "One", "Two"]))
        await fake.wait_until(lambda: len(fake.webhook_posts(world.news_id)) >= 2, timeout=15)
        assert {m.webhook_id for m in fake.webhook_posts(world.news_id)} == {first.webhook_id}
        assert fake.count("POST", WEBHOOKS) == 1
        assert len(fake.webhooks.of_channel(world.news_id)) == 2  # mine and the admin's


async def test_webhook_mode_without_manage_webhooks_is_refused_and_changes_nothing(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id_of(bot, world.guild_id)
        answer = await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": feed, "channel": world.news_id, "mode": "webhook"},
        )
        assert "Manage Webhooks" in answer.content and "Nothing was changed" in answer.content
        feed_server.set(FEED_PATH, letter(["Hello", "Plain"]))
        await fake.wait_for_messages(world.news_id, 1, timeout=15)
        assert titles(fake.bot_posts(world.news_id)) == ["Plain"]
        assert fake.count("POST", WEBHOOKS) == 0
