"""`/feed mention` (a role ping for every post or only the matching ones) and `/feed test` (the
newest item posted now, exactly as a real post) through the real bot and the fake Discord."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.e2e.test_delivery_e2e import add_feed, normalized_allowed_mentions, titles_posted
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.feedserver import FeedServer, rss_feed

FEED_PATH = "/letter.xml"


def letter(titles: list[str]) -> str:
    """An RSS feed of `titles`, oldest first; each item's body repeats its title."""
    items: list[dict[str, object]] = [
        {
            "title": title,
            "guid": f"post-{n}",
            "link": f"https://letter.example.com/p/{n}",
            "description": f"Notes about {title}",
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, title in enumerate(titles)
    ]
    return rss_feed(list(reversed(items)), title="The Letter")


async def admin_command(
    fake: FakeDiscord, world: StandardGuild, name: str, options: dict[str, Any]
) -> StoredMessage:
    """A command by the admin in #general; its (ephemeral) answer."""
    handle = await fake.invoke_command(
        name,
        options,
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=world.admin_id,
    )
    answer = await handle.final_message(timeout=10)
    assert answer.ephemeral
    return answer


def by_title(fake: FakeDiscord, channel_id: int) -> dict[str, StoredMessage]:
    return {str(m.embeds[0]["title"]): m for m in fake.bot_posts(channel_id) if m.embeds}


def assert_pings_only(post: StoredMessage, role_id: int) -> None:
    assert post.content == f"<@&{role_id}>"
    assert normalized_allowed_mentions(post) == {"parse": [], "roles": [role_id]}
    assert post.pinged.roles == (role_id,) and not post.pinged.everyone


def assert_pings_no_one(post: StoredMessage) -> None:
    assert not post.content
    assert post.allowed_mentions == {"parse": []}
    assert not post.pinged.anyone


async def test_a_conditional_ping_names_the_role_only_on_matching_posts(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    release = fake.state.add_role(world.guild_id, "Release", mentionable=True)
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        feed_id = str(view.subscription.feed_id)
        answer = await admin_command(
            fake,
            world,
            "feed mention",
            {"feed": feed_id, "channel": world.news_id, "role": release.id, "when": "release"},
        )
        assert f"<@&{release.id}>" in answer.content and "only when" in answer.content
        assert not answer.pinged.anyone  # the answer names the role but pings no one

        feed_server.set(FEED_PATH, letter(["Hello", "Version 2 release notes", "Weekly chat"]))
        await fake.wait_for_messages(world.news_id, 2, timeout=15)
        posts = by_title(fake, world.news_id)
        assert_pings_only(posts["Version 2 release notes"], release.id)
        assert_pings_no_one(posts["Weekly chat"])

        # No role clears the ping: the next matching post pings no one.
        cleared = await admin_command(
            fake, world, "feed mention", {"feed": feed_id, "channel": world.news_id}
        )
        assert "no longer ping" in cleared.content
        feed_server.set(
            FEED_PATH,
            letter(["Hello", "Version 2 release notes", "Weekly chat", "Version 3 release"]),
        )
        await fake.wait_for_messages(world.news_id, 3, timeout=15)
        assert_pings_no_one(by_title(fake, world.news_id)["Version 3 release"])


async def test_an_unusable_when_is_refused_and_changes_nothing(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    release = fake.state.add_role(world.guild_id, "Release", mentionable=True)
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(
            fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0, mention=release.id
        )
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        feed_id = str(view.subscription.feed_id)
        refused = await admin_command(
            fake,
            world,
            "feed mention",
            {"feed": feed_id, "channel": world.news_id, "role": release.id, "when": "-sponsored"},
        )
        assert "only excludes words" in refused.content
        no_role = await admin_command(
            fake, world, "feed mention", {"feed": feed_id, "channel": world.news_id, "when": "x"}
        )
        assert "`when` needs a `role`" in no_role.content
        elsewhere = await admin_command(
            fake, world, "feed mention", {"feed": feed_id, "role": release.id}
        )
        assert f"does not post in <#{world.general_id}>" in elsewhere.content
        (after,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert after.subscription.mention_role_id == release.id
        assert await bot.runtime.store.subscriptions.mention_when(after.subscription.id) is None


async def test_a_test_post_looks_exactly_like_the_real_post_and_follows_the_ping_rule(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    release = fake.state.add_role(world.guild_id, "Release", mentionable=True)
    feed_server.set(FEED_PATH, letter(["Weekly chat", "Version 2 release notes"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(
            fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=1, mention=release.id
        )
        (real,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        feed_id = str(view.subscription.feed_id)

        answer = await admin_command(
            fake, world, "feed test", {"feed": feed_id, "channel": world.news_id}
        )
        assert "Version 2 release notes" in answer.content
        assert "exactly as a real post" in answer.content
        _, test = await fake.wait_for_messages(world.news_id, 2, timeout=10)
        assert test.embeds == real.embeds and test.components == real.components
        assert_pings_only(test, release.id)
        assert_pings_only(real, release.id)

        # With a condition the newest item does not match, the test post pings no one.
        await admin_command(
            fake,
            world,
            "feed mention",
            {"feed": feed_id, "channel": world.news_id, "role": release.id, "when": "security"},
        )
        answer = await admin_command(
            fake, world, "feed test", {"feed": feed_id, "channel": world.news_id}
        )
        assert "it pings no one" in answer.content
        assert "filter" not in answer.content  # no filter: nothing to say about one
        *_, quiet = await fake.wait_for_messages(world.news_id, 3, timeout=10)
        assert quiet.embeds == real.embeds
        assert_pings_no_one(quiet)

        # With a filter, the answer says what it would have done to the item posted.
        await admin_command(
            fake,
            world,
            "feed filter",
            {"feed": feed_id, "channel": world.news_id, "exclude": "release"},
        )
        answer = await admin_command(
            fake, world, "feed test", {"feed": feed_id, "channel": world.news_id}
        )
        assert "filter holds this item back" in answer.content and "release" in answer.content
        await admin_command(
            fake,
            world,
            "feed filter",
            {"feed": feed_id, "channel": world.news_id, "include": "notes", "clear": True},
        )
        answer = await admin_command(
            fake, world, "feed test", {"feed": feed_id, "channel": world.news_id}
        )
        assert "filter lets this item through" in answer.content
        await fake.wait_for_messages(world.news_id, 5, timeout=10)  # both still posted as tests


async def test_a_test_post_leaves_the_real_post_of_that_item_to_come(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    """The newest item waits for the channel's digest; a test post of it must not count as its
    post: switching the channel back to instant posts it for real."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["Hello"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, mode="digest")
        await admin_command(
            fake,
            world,
            "digest schedule",
            {"channel": world.news_id, "cadence": "daily", "time": "09:00", "timezone": "UTC"},
        )
        feed_server.set(FEED_PATH, letter(["Hello", "Waiting post"]))
        store = bot.runtime.store

        async def both_archived() -> bool:  # the poller polls the feed every second
            return await store.items.count() >= 2

        await until(both_archived, what="the new item archived")
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        feed_id = str(view.subscription.feed_id)
        await admin_command(fake, world, "feed test", {"feed": feed_id, "channel": world.news_id})
        await fake.wait_for_messages(world.news_id, 1, timeout=10)

        switched = await admin_command(
            fake, world, "feed mode", {"feed": feed_id, "channel": world.news_id, "mode": "instant"}
        )
        assert "Posting the 1 item that was waiting" in switched.content
        await fake.wait_for_messages(world.news_id, 2, timeout=10)
        assert titles_posted(fake, world.news_id) == ["Waiting post", "Waiting post"]
