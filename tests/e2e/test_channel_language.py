"""What goes to a channel is in the channel's language: the guild's preferred locale (Discord
sends it with the guild), or the one an admin chose for the channel; a topic DM is in the
language of the member's last /follow. Only our chrome is translated, never the feed's text.
Through the real bot, discord.py and the fake Discord."""

from __future__ import annotations

import time as wall
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.i18n import use_locale
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, StoredMessage
from tests.feedserver import FeedServer, rss_feed

AUDIO = "https://cdn.example.com/episode-7.mp3"


class ShiftedClock:
    """The real clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return wall.time() + self.offset


def podcast(*, with_episode: bool) -> str:
    items: list[dict[str, Any]] = [
        {
            "title": "Trailer",
            "link": "https://pod.example.com/trailer",
            "guid": "trailer",
            "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT",
        }
    ]
    if with_episode:
        items.insert(
            0,
            {
                "title": "Episode 7: distillation",
                "link": "https://pod.example.com/7",
                "guid": "ep-7",
                "description": "We talk about distillation of open models.",
                "pubDate": "Tue, 02 Jan 2024 10:00:00 GMT",
                "author": "Nathan Host",
                "duration": "1:02:05",
                "enclosure": {"url": AUDIO, "type": "audio/mpeg", "length": "1000"},
            },
        )
    return rss_feed(items, title="The Pod", link="https://pod.example.com/")


def fields(message: StoredMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


def labels(message: StoredMessage) -> list[str]:
    return [c["label"] for row in message.components for c in row.get("components", [])]


async def test_a_japanese_guild_gets_japanese_chrome_and_an_admin_may_choose_english(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    fake.state.guilds[world.guild_id].preferred_locale = "ja"
    english = fake.state.add_text_channel(world.guild_id, "english").id
    feed_server.set("/pod.xml", podcast(with_episode=False))
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        url = feed_server.url("/pod.xml")
        for channel in (world.news_id, english):
            await runtime.subscriptions.subscribe(
                guild_id=world.guild_id, channel_id=channel, url=url, backfill=0
            )
        await runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.general_id, url=url, mode="digest"
        )
        # An admin chooses English for one channel (the answer in the admin's own language).
        handle = await fake.invoke_command(
            "language channel",
            {"channel": english, "language": "en"},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
            locale="ja",
        )
        answer = await handle.final_message(timeout=10)
        assert (
            answer.content == f"<#{english}> の投稿・ダイジェスト・お知らせは今後英語で書かれます。"
        )
        # auto: the server's language.
        handle = await fake.invoke_command(
            "language channel",
            {"channel": world.news_id},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        answer = await handle.final_message(timeout=10)
        assert answer.content.startswith(
            f"<#{world.news_id}>'s posts, digests and notices are written in the server's "
            "language (automatic)."
        )
        # Each member's DMs follow the language their /follow came in, not the guild's.
        with use_locale("ja"):
            await runtime.follows.follow(world.guild_id, world.admin_id, "distillation")
        with use_locale("en-US"):
            await runtime.follows.follow(world.guild_id, world.member_id, "distillation")
        await runtime.digests.schedule(
            guild_id=world.guild_id,
            channel_id=world.general_id,
            cadence="daily",
            local_time="09:00",
            timezone="UTC",
            channel_name="general",
        )

        feed_server.set("/pod.xml", podcast(with_episode=True))
        clock.offset += 3600

        async def polled() -> bool:
            await runtime.poller.poll_due()
            return await runtime.store.items.count() >= 2

        await until(polled, what="the episode archived")

        # The guild's language: Japanese chrome around the feed's own English.
        (post,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        card = post.embeds[0]
        assert card["title"] == "Episode 7: distillation"
        assert card["footer"]["text"] == "著者: Nathan Host"
        assert fields(post) == {"再生時間": "1:02:05", "聴く": f"[音声 (mp3)]({AUDIO})"}
        # The admin chose English for that channel.
        (post,) = await fake.wait_for_messages(english, 1, timeout=10)
        assert post.embeds[0]["footer"]["text"] == "by Nathan Host"
        assert fields(post) == {"Duration": "1:02:05", "Listen": f"[Audio (mp3)]({AUDIO})"}

        (dm,) = await fake.wait_for_dms(world.admin_id, 1, timeout=10)
        assert (
            dm.content
            == "🔔 新しい投稿があなたのトピックに一致しました: **Test Guild** の **distillation**"
        )
        assert labels(dm) == ["このトピックを停止"]
        assert fields(dm)["聴く"] == f"[音声 (mp3)]({AUDIO})"
        (dm,) = await fake.wait_for_dms(world.member_id, 1, timeout=10)
        assert dm.content == "🔔 A new post matches your topic **distillation** in **Test Guild**"
        assert labels(dm) == ["Stop this topic"]

        # The digest, in the guild's language too.
        tomorrow = datetime.fromtimestamp(clock(), tz=UTC) + timedelta(days=1)
        slot = tomorrow.replace(hour=9, minute=0, second=0, microsecond=0)
        clock.offset = slot.timestamp() - wall.time() + 30
        dues = await runtime.digests.run_due()
        assert [d.queued for d in dues] == [True]
        (digest,) = await fake.wait_for_messages(world.general_id, 1, timeout=10)
        assert digest.content.startswith("**#general のダイジェスト** · 1件のフィードから新着")
        entries = " ".join(e.get("description", "") for e in digest.embeds)
        assert "Episode 7: distillation" in entries
        assert f"著者: Nathan Host · 再生時間: 1:02:05 · 聴く: [音声 (mp3)]({AUDIO})" in entries


async def test_previews_show_the_post_in_the_channels_language_around_the_members_words(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    """/feed preview and /digest preview: the post or digest as the channel will get it
    (here the Japanese guild's), the words around it in the member's (English)."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    fake.state.guilds[world.guild_id].preferred_locale = "ja"
    feed_server.set("/pod.xml", podcast(with_episode=False))
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        url = feed_server.url("/pod.xml")
        added = await runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.news_id, url=url, backfill=0
        )
        await runtime.subscriptions.subscribe(
            guild_id=world.guild_id, channel_id=world.general_id, url=url, mode="digest"
        )
        feed_server.set("/pod.xml", podcast(with_episode=True))
        clock.offset += 3600

        async def polled() -> bool:
            await runtime.poller.poll_due()
            return await runtime.store.items.count() >= 2

        await until(polled, what="the episode archived")

        async def command(name: str, options: dict[str, Any]) -> StoredMessage:
            handle = await fake.invoke_command(
                name,
                options,
                guild_id=world.guild_id,
                channel_id=world.general_id,
                user_id=world.admin_id,
                locale="en-US",
            )
            return await handle.final_message(timeout=10)

        preview = await command(
            "feed preview", {"feed": str(added.feed.id), "channel": world.news_id}
        )
        assert preview.embeds[0]["title"] == "Episode 7: distillation"
        assert preview.embeds[0]["footer"]["text"] == "著者: Nathan Host"
        assert fields(preview) == {"再生時間": "1:02:05", "聴く": f"[音声 (mp3)]({AUDIO})"}

        digest = await command("digest preview", {"channel": world.general_id})
        assert digest.content.startswith(
            "Preview (only you see this):\n**#general のダイジェスト** · 1件のフィードから新着"
        )
