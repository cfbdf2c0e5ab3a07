"""/feed import, /feed export and /feed mode through the real bot and the fake Discord."""

from __future__ import annotations

from pathlib import Path

from bot.features.feeds.opml import OpmlFeed, export_opml, parse_opml
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import AttachmentOpt, FakeDiscord, InteractionHandle
from tests.feedserver import FeedServer, rss_feed


def finished_text(handle: InteractionHandle) -> str:
    original = handle.record.original
    return original.content if original is not None else ""


def one_post_feed(name: str) -> str:
    return rss_feed([{"title": f"{name} post", "guid": f"{name}-1"}], title=f"Feed {name}")


async def test_import_reports_each_feed_and_export_round_trips(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    good = [OpmlFeed(f"Feed {n}", feed_server.url(f"/f{n}")) for n in range(4)]
    for n in range(4):
        feed_server.set(f"/f{n}", one_post_feed(str(n)))
    feed_server.set("/broken", "<html><body>not a feed</body></html>", content_type="text/html")
    broken = [
        OpmlFeed("Broken", feed_server.url("/broken")),
        OpmlFeed("Missing", feed_server.url("/missing")),
    ]
    opml = export_opml([*good, *broken], "From another reader")
    async with running_bot(tmp_path, fake):
        handle = await fake.invoke_command(
            "feed import",
            {"file": AttachmentOpt("feeds.opml", opml, "text/x-opml"), "channel": world.news_id},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        await handle.wait_for(lambda h: "finished" in finished_text(h), timeout=15)
        message = await handle.final_message(timeout=15)
        assert "4 added, 0 already there, 2 failed" in message.content
        (report,) = message.attachments
        text = report.data.decode()
        assert text.count("added: Feed") == 4
        assert "failed: Broken" in text and "failed: Missing" in text

        exported = await fake.invoke_command(
            "feed export",
            {},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        export_message = await exported.final_message(timeout=10)
        (file,) = export_message.attachments
        assert sorted(f.xml_url for f in parse_opml(file.data)) == sorted(f.xml_url for f in good)

        # Importing the export again: every feed is already there.
        again = await fake.invoke_command(
            "feed import",
            {"file": AttachmentOpt("again.opml", file.data), "channel": world.news_id},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        await again.wait_for(lambda h: "finished" in finished_text(h), timeout=15)
        assert "0 added, 4 already there, 0 failed" in (await again.final_message()).content
        # Imports post no backfill.
        assert fake.bot_posts(world.news_id) == []


async def test_hostile_opml_is_refused_clearly(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline text="&b;" xmlUrl="http://x/"/></body></opml>'
    )
    async with running_bot(tmp_path, fake):
        handle = await fake.invoke_command(
            "feed import",
            {"file": AttachmentOpt("evil.opml", laughs)},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        message = await handle.final_message(timeout=10)
        assert message.ephemeral and "can't import" in message.content


async def test_mode_switches_a_subscription_to_the_digest(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/f", one_post_feed("m"))
    async with running_bot(tmp_path, fake) as bot:
        added = await fake.invoke_command(
            "feed add",
            {"url": feed_server.url("/f"), "channel": world.news_id, "backfill": 0},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        await added.final_message(timeout=10)
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        handle = await fake.invoke_command(
            "feed mode",
            {"feed": str(view.subscription.feed_id), "channel": world.news_id, "mode": "digest"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        assert "digest" in (await handle.final_message(timeout=10)).content
        (after,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert after.subscription.mode == "digest"


async def test_mode_back_to_instant_posts_the_items_waiting_for_the_digest(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/f", one_post_feed("w"))
    async with running_bot(tmp_path, fake) as bot:
        added = await fake.invoke_command(
            "feed add",
            {"url": feed_server.url("/f"), "channel": world.news_id, "mode": "digest"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        await added.final_message(timeout=10)
        scheduled = await fake.invoke_command(
            "digest schedule",
            {"channel": world.news_id, "cadence": "daily", "time": "09:00", "timezone": "UTC"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        assert "gets a digest" in (await scheduled.final_message(timeout=10)).content
        feed_server.set(
            "/f",
            rss_feed(
                [{"title": "Waiting post", "guid": "w-2"}, {"title": "w post", "guid": "w-1"}],
                title="Feed w",
            ),
        )
        store = bot.runtime.store

        async def both_archived() -> bool:  # the poller polls the feed every second
            return await store.items.count() >= 2

        await until(both_archived, what="the new item archived")
        assert fake.bot_posts(world.news_id) == []

        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        handle = await fake.invoke_command(
            "feed mode",
            {"feed": str(view.subscription.feed_id), "channel": world.news_id, "mode": "instant"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        assert "instant" in (await handle.final_message(timeout=10)).content
        # The item that arrived in digest mode is not lost between the two modes: it is posted.
        (post,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        assert post.embeds[0]["title"] == "Waiting post"
