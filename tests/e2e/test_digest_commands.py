"""/digest commands end to end: the real bot, discord.py, the fake Discord, a loopback feed;
the digest's slot is driven by moving the bot's clock."""

from __future__ import annotations

import time as wall
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer, rss_feed

HOSTILE_TITLE = "@everyone free nitro <@&123>"


class ShiftedClock:
    """The real clock plus an offset the test moves forward (the poller keeps polling)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return wall.time() + self.offset


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


async def test_digest_schedule_then_a_driven_slot_posts_one_digest(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/feed.xml", newsletter("First"))
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        handle = await fake.invoke_command(
            "feed add",
            {"url": feed_server.url("/feed.xml"), "channel": world.news_id, "mode": "digest"},
            user_id=world.admin_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        assert "digest mode" in (await handle.final_message(timeout=10)).content

        # Members without Manage Server are refused, even if the command is shown to them.
        handle = await fake.invoke_command(
            "digest schedule",
            {"channel": world.news_id, "cadence": "daily", "time": "09:00", "timezone": "UTC"},
            user_id=world.member_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        assert "Manage Server" in (await handle.final_message(timeout=5)).content

        handle = await fake.invoke_autocomplete(
            "digest schedule",
            "timezone",
            {"timezone": "berl"},
            user_id=world.admin_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        assert "Europe/Berlin" in [c["value"] for c in await handle.choices()]

        handle = await fake.invoke_command(
            "digest schedule",
            {
                "channel": world.news_id,
                "cadence": "weekly",
                "time": "9am",
                "timezone": "UTC",
                "weekday": "Monday",
            },
            user_id=world.admin_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        refused = await handle.final_message(timeout=5)
        assert refused.ephemeral and "HH:MM" in refused.content

        berlin = ZoneInfo("Europe/Berlin")
        slot_local = (datetime.now(berlin) + timedelta(hours=2)).replace(second=0, microsecond=0)
        handle = await fake.invoke_command(
            "digest schedule",
            {
                "channel": world.news_id,
                "cadence": "daily",
                "time": slot_local.strftime("%H:%M"),
                "timezone": "europe/berlin",
            },
            user_id=world.admin_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        answer = await handle.final_message(timeout=5)
        assert answer.ephemeral
        assert f"<#{world.news_id}> gets a digest daily at" in answer.content
        assert "(Europe/Berlin)" in answer.content
        slot = slot_local.astimezone(UTC)
        assert f"<t:{int(slot.timestamp())}:F>" in answer.content

        # New items arrive; in digest mode nothing is posted for them.
        feed_server.set("/feed.xml", newsletter("First", "Second", HOSTILE_TITLE))
        clock.offset += 60  # the next poll is due (drive it rather than wait for the loop)

        async def polled() -> bool:  # (the poller's own loop may be polling it at this moment)
            await runtime.poller.poll_due()
            return await runtime.store.items.count() >= 3

        await until(polled, what="the new items archived")
        assert await runtime.store.items.count() == 3
        assert fake.bot_posts(world.news_id) == []

        handle = await fake.invoke_command(
            "digest preview",
            {"channel": world.news_id},
            user_id=world.admin_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        preview = await handle.final_message(timeout=5)
        assert preview.ephemeral and "Preview" in preview.content
        shown = " ".join(e.get("description", "") for e in preview.embeds)
        assert "Second" in shown and "free nitro" in shown and "First" not in shown

        # Drive the slot: the clock reaches it and the digest job runs.
        clock.offset = slot.timestamp() - wall.time() + 30
        (due,) = await runtime.digests.run_due()
        assert due.queued and due.item_count == 2
        (digest,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        assert "Digest for #news" in digest.content and "2 new items" in digest.content
        entries = " ".join(e.get("description", "") for e in digest.embeds)
        assert entries.index("free nitro") < entries.index("Second")  # newest first
        assert digest.allowed_mentions == {"parse": []} and not digest.pinged.anyone
        # A digest of one message carries its delivery's own nonce.
        assert str(digest.nonce).startswith("d") and str(digest.nonce)[1:].isdigit()

        # The same slot again (another tick, the catch-up job) sends nothing more.
        assert await runtime.digests.run_due() == []

        async def settled() -> bool:
            counts = await runtime.store.deliveries.counts()
            return counts["pending"] == counts["sending"] == 0 and counts["sent"] >= 1

        # The fake saw the post before the outbox marks it sent: wait for that mark, then
        # nothing is queued that could post.
        await until(settled, what="the digest delivery marked sent, nothing else queued")
        assert len(fake.bot_posts(world.news_id)) == 1

        handle = await fake.invoke_command(
            "digest off",
            {"channel": world.news_id},
            user_id=world.admin_id,
            guild_id=world.guild_id,
            channel_id=world.general_id,
        )
        assert "turned off" in (await handle.final_message(timeout=5)).content
        assert await runtime.store.digests.get(world.news_id) is None
