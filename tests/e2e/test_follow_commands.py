"""/follow, /unfollow, /following and topic DMs end to end: the real bot, discord.py, the fake
Discord, loopback feeds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.app import DigestBot
from bot.store.topics import MAX_TOPICS_PER_MEMBER
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.fakediscord.state import DM
from tests.feedserver import FeedServer, rss_feed

STOP_ID = re.compile(r"topic:stop:(\d+)")


def letter(name: str, titles: list[str]) -> str:
    """A feed whose posts are `titles`, oldest first."""
    items = [
        {
            "title": title,
            "link": f"https://{name}.example.com/p/{n}",
            "guid": f"{name}-{n}",
            "content": f"<p>{title}. A few words in the body.</p>",
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, title in enumerate(titles)
    ]
    return rss_feed(list(reversed(items)), title=f"{name.title()} Letter")


class Feeds:
    """Feeds on the loopback server; `publish` adds a post and polls every feed once."""

    def __init__(self, bot: DigestBot, server: FeedServer) -> None:
        self.bot = bot
        self.server = server
        self.titles: dict[str, list[str]] = {}

    async def subscribe(self, world: StandardGuild, name: str) -> None:
        self.titles.setdefault(name, [f"{name} archive: rust before anyone followed"])
        self.server.set(f"/{name}.xml", letter(name, self.titles[name]))
        await self.bot.runtime.subscriptions.subscribe(
            guild_id=world.guild_id,
            channel_id=world.news_id,
            url=self.server.url(f"/{name}.xml"),
            backfill=0,
        )

    async def publish(self, name: str, title: str) -> None:
        self.titles[name].append(title)
        self.server.set(f"/{name}.xml", letter(name, self.titles[name]))
        outcomes = await self.bot.runtime.poller.poll_due(all_feeds=True)
        assert all(o.error is None for o in outcomes)


async def dms_paused(bot: DigestBot, user_id: int) -> bool:
    return bool(await bot.runtime.store.deliveries.for_target("user", user_id, state="paused"))


async def command(
    fake: FakeDiscord,
    world: StandardGuild,
    name: str,
    options: dict[str, Any],
    user_id: int,
) -> StoredMessage:
    handle = await fake.invoke_command(
        name, options, guild_id=world.guild_id, channel_id=world.general_id, user_id=user_id
    )
    answer = await handle.final_message(timeout=5)
    assert answer.ephemeral
    assert not handle.errors
    return answer


def stop_buttons(message: StoredMessage) -> list[dict[str, Any]]:
    return [
        item
        for row in message.components
        for item in row["components"]
        if item["type"] == 2 and STOP_ID.fullmatch(str(item.get("custom_id")))
    ]


def dm_channel_id(fake: FakeDiscord, user_id: int) -> int | None:
    for channel in fake.state.channels.values():
        if channel.type == DM and channel.recipient_id == user_id:
            return channel.id
    return None


async def test_follow_answers_limit_duplicates_and_unfollow_autocompletes_own_topics(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild("Alpha Guild")
    other = fake.state.add_standard_guild("Other Guild")
    fake.state.add_member(other.guild_id, world.member_id)
    me = world.member_id
    async with running_bot(tmp_path, fake) as bot:
        feeds = Feeds(bot, feed_server)
        await feeds.subscribe(world, "alpha")

        added = await command(fake, world, "follow", {"topic": "Open Weight"}, me)
        assert "Following **Open Weight**" in added.content
        assert f"1 of {MAX_TOPICS_PER_MEMBER}" in added.content
        again = await command(fake, world, "follow", {"topic": "WEIGHT open"}, me)
        assert "already follow" in again.content
        nothing = await command(fake, world, "follow", {"topic": "*** !!"}, me)
        assert "no searchable words" in nothing.content
        only_out = await command(fake, world, "follow", {"topic": "-spam"}, me)
        assert "only excludes" in only_out.content
        feed_choice = await (
            await fake.invoke_autocomplete(
                "follow",
                "feed",
                {"topic": "rust", "feed": "alp"},
                guild_id=world.guild_id,
                channel_id=world.general_id,
                user_id=me,
            )
        ).choices()
        assert [c["name"] for c in feed_choice] == ["Alpha Letter"]
        limited = await command(
            fake, world, "follow", {"topic": "rust", "feed": feed_choice[0]["value"]}, me
        )
        assert "**rust** in **Alpha Letter**" in limited.content
        unknown_feed = await command(
            fake, world, "follow", {"topic": "go", "feed": "no such feed"}, me
        )
        assert "doesn't follow a feed" in unknown_feed.content

        # Fill up to the limit: the next one is refused politely.
        for n in range(MAX_TOPICS_PER_MEMBER - 2):
            await bot.runtime.follows.follow(world.guild_id, me, f"filler{n}")
        full = await command(fake, world, "follow", {"topic": "one too many"}, me)
        assert f"already follow {MAX_TOPICS_PER_MEMBER} topics" in full.content
        # Another member and another guild are not affected by her limit.
        elsewhere = await command(fake, other, "follow", {"topic": "filler1 elsewhere"}, me)
        assert "Following" in elsewhere.content
        await command(fake, world, "follow", {"topic": "filler1 secret"}, world.admin_id)

        # /unfollow autocompletes only her own topics in this guild.
        handle = await fake.invoke_autocomplete(
            "unfollow",
            "topic",
            {"topic": "filler1"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=me,
        )
        choices = await handle.choices()
        names = [c["name"] for c in choices]
        assert names == ["filler1"] + [f"filler{n}" for n in range(10, 20)]
        gone = await command(fake, world, "unfollow", {"topic": choices[0]["value"]}, me)
        assert "Stopped following **filler1**" in gone.content
        by_words = await command(fake, world, "unfollow", {"topic": "Open  Weight"}, me)
        assert "Stopped following" in by_words.content
        admins = await bot.runtime.follows.following(world.guild_id, world.admin_id)
        not_mine = await command(fake, world, "unfollow", {"topic": str(admins[0].topic.id)}, me)
        assert "don't follow that topic" in not_mine.content
        assert len(await bot.runtime.follows.following(world.guild_id, world.admin_id)) == 1

        listed = await command(fake, world, "following", {}, me)
        assert f"({MAX_TOPICS_PER_MEMBER - 2} of {MAX_TOPICS_PER_MEMBER})" in listed.content
        assert "**rust** in Alpha Letter — no matches yet" in listed.content
        assert not listed.pinged.anyone


async def test_one_dm_per_item_per_member_and_only_from_the_guilds_feeds(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    guild_a = fake.state.add_standard_guild("Guild A")
    guild_b = fake.state.add_standard_guild("Guild B")
    both = guild_a.member_id  # a member of both guilds
    fake.state.add_member(guild_b.guild_id, both)
    only_a = guild_a.admin_id
    only_b = guild_b.member_id
    async with running_bot(tmp_path, fake) as bot:
        feeds = Feeds(bot, feed_server)
        await feeds.subscribe(guild_a, "alpha")
        await feeds.subscribe(guild_b, "alpha")
        await feeds.subscribe(guild_b, "beta")
        await command(fake, guild_a, "follow", {"topic": "rust"}, both)
        await command(fake, guild_a, "follow", {"topic": '"borrow checker"'}, both)
        await command(fake, guild_b, "follow", {"topic": "RUST"}, both)
        await command(fake, guild_a, "follow", {"topic": "rust"}, only_a)
        await command(fake, guild_b, "follow", {"topic": "rust"}, only_b)

        # beta is followed by guild B only: its members hear of it, guild A's never do.
        await feeds.publish("beta", "Rust in the beta letter @everyone")
        (dm,) = await fake.wait_for_dms(only_b, 1, timeout=10)
        assert dm.embeds[0]["title"].startswith("Rust in the beta letter")
        assert "Guild B" in dm.content and not dm.pinged.anyone
        (both_dm,) = await fake.wait_for_dms(both, 1, timeout=10)  # through her guild B topic
        assert "Guild A" not in both_dm.content
        await feeds.publish("alpha", "Rust and the borrow checker")
        await fake.wait_for_dms(only_a, 1, timeout=10)
        await fake.wait_for_dms(both, 2, timeout=10)
        await fake.wait_for_dms(only_b, 2, timeout=10)
        # Let the outbox settle, then count: one DM per item per member.
        await bot.runtime.outbox.drain()  # type: ignore[union-attr]
        assert len(fake.dms(only_a)) == 1
        assert [m.embeds[0]["title"] for m in fake.dms(only_a)] == ["Rust and the borrow checker"]
        assert len(fake.dms(both)) == 2 and len(fake.dms(only_b)) == 2
        alpha_dm = fake.dms(both)[1]
        # Three topics in two guilds matched: one DM naming them, with a Stop button each.
        assert "Guild A" in alpha_dm.content and "Guild B" in alpha_dm.content
        assert (
            '**rust**, **"borrow checker"** in **Guild A**; **RUST** in **Guild B**'
            in alpha_dm.content
        )
        assert len(stop_buttons(alpha_dm)) == 3
        assert alpha_dm.allowed_mentions is not None and not alpha_dm.pinged.anyone
        # The archive (first poll) notified no one; nor did anything reach guild A's member
        # about the beta letter.
        assert all(
            "archive" not in m.embeds[0]["title"]
            for u in (both, only_a, only_b)
            for m in fake.dms(u)
        )

        listed = await command(fake, guild_a, "following", {}, both)
        assert "**rust** — 1 match, last <t:" in listed.content
        assert '**"borrow checker"** — 1 match' in listed.content


async def test_stop_button_unfollows_only_for_its_owner_and_after_a_restart(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild("Button Guild")
    me = world.member_id
    async with running_bot(tmp_path, fake) as bot:
        feeds = Feeds(bot, feed_server)
        await feeds.subscribe(world, "alpha")
        await command(fake, world, "follow", {"topic": "rust"}, me)
        await command(fake, world, "follow", {"topic": "python"}, me)
        await feeds.publish("alpha", "Rust weekly")
        await feeds.publish("alpha", "Python weekly")
        rust_dm, python_dm = await fake.wait_for_dms(me, 2, timeout=10)
        (rust_button,) = stop_buttons(rust_dm)
        assert rust_button["label"] == "Stop this topic"

        # Someone else clicking (e.g. a forwarded message) changes nothing.
        refused = await fake.invoke_component(rust_dm, rust_button["custom_id"], world.admin_id)
        assert "Only the member who follows" in (await refused.final_message(timeout=5)).content
        clicked = await fake.invoke_component(rust_dm, rust_button["custom_id"], me)
        answer = await clicked.final_message(timeout=5)
        assert (
            answer.ephemeral and "Stopped following **rust** in **Button Guild**" in answer.content
        )
        again = await fake.invoke_component(rust_dm, rust_button["custom_id"], me)
        assert "no longer follow" in (await again.final_message(timeout=5)).content
        await feeds.publish("alpha", "Rust weekly, part two")
        await bot.runtime.outbox.drain()  # type: ignore[union-attr]
        assert len(fake.dms(me)) == 2

    # A new bot process on the same database: the old DM's button still works.
    async with running_bot(tmp_path, fake) as bot:
        (python_button,) = stop_buttons(python_dm)
        clicked = await fake.invoke_component(python_dm, python_button["custom_id"], me)
        answer = await clicked.final_message(timeout=5)
        assert "Stopped following **python**" in answer.content
        assert await bot.runtime.follows.following(world.guild_id, me) == []
        assert len(bot.runtime.follows.percolator) == 0


async def test_closed_dms_pause_follows_without_retries_until_the_member_resumes(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild("Closed Guild")
    closed = world.closed_dms_id
    async with running_bot(tmp_path, fake) as bot:
        feeds = Feeds(bot, feed_server)
        await feeds.subscribe(world, "alpha")
        await command(fake, world, "follow", {"topic": "rust"}, closed)
        await command(fake, world, "follow", {"topic": "rust"}, world.member_id)

        await feeds.publish("alpha", "Rust one")
        await fake.wait_for_dms(world.member_id, 1, timeout=10)
        await fake.wait_until(
            lambda: (
                dm_channel_id(fake, closed) is not None
                and fake.count("POST", rf"/channels/{dm_channel_id(fake, closed)}/messages$") == 1
            ),
            timeout=10,
        )
        dm_id = dm_channel_id(fake, closed)
        await until(lambda: dms_paused(bot, closed), what="the closed member's deliveries paused")
        await feeds.publish("alpha", "Rust two")
        await fake.wait_for_dms(world.member_id, 2, timeout=10)
        await bot.runtime.outbox.drain()  # type: ignore[union-attr]
        # One refused attempt, never retried, nothing sent for the second item.
        assert fake.count("POST", rf"/channels/{dm_id}/messages$") == 1
        assert fake.dms(closed) == []
        assert fake.count("POST", r"/users/@me/channels$") <= 2  # one DM channel per member

        # Her next command says why, once; then (DMs opened) /following resumes.
        told = await command(fake, world, "following", {}, closed)
        assert "DMs are closed" in told.content and "/following" in told.content
        assert "**rust**" in told.content
        fake.state.users[closed].dms_open = True
        resumed = await command(fake, world, "following", {}, closed)
        assert "active again" in resumed.content
        quiet = await command(fake, world, "following", {}, closed)
        assert "active again" not in quiet.content and "DMs" not in quiet.content

        await feeds.publish("alpha", "Rust three")
        (dm,) = await fake.wait_for_dms(closed, 1, timeout=10)
        assert dm.embeds[0]["title"] == "Rust three"


async def test_any_command_tells_a_member_once_that_their_follows_are_paused(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild("Notice Guild")
    closed = world.closed_dms_id
    async with running_bot(tmp_path, fake) as bot:
        feeds = Feeds(bot, feed_server)
        await feeds.subscribe(world, "alpha")
        await command(fake, world, "follow", {"topic": "rust"}, closed)
        await feeds.publish("alpha", "Rust one")
        await until(lambda: dms_paused(bot, closed), what="the closed member's deliveries paused")
        handle = await fake.invoke_command(
            "latest", {}, guild_id=world.guild_id, channel_id=world.general_id, user_id=closed
        )
        await handle.final_message(timeout=5)
        notice = await handle.followup(0, timeout=5)
        assert notice.ephemeral and "DMs are closed" in notice.content
        again = await fake.invoke_command(
            "latest", {}, guild_id=world.guild_id, channel_id=world.general_id, user_id=closed
        )
        await again.final_message(timeout=5)
        # A later command answered: the bot is past the second one, notice or not.
        later = await fake.invoke_command(
            "following", {}, guild_id=world.guild_id, channel_id=world.general_id, user_id=closed
        )
        await later.final_message(timeout=5)
        assert again.record.followups == []  # told once
