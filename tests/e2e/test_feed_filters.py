"""/feed filter end to end: the real bot, discord.py, the fake Discord, a loopback feed."""

from __future__ import annotations

import json
import time as wall
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.features.feeds.opml import parse_opml
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import AttachmentOpt, FakeDiscord, InteractionHandle
from tests.feedserver import FeedServer, rss_feed

# (title, body) of each item, oldest first.
ARCHIVE = [("Rust intro", "Getting started."), ("Go intro", "Getting started.")]
NEWS = [
    ("Rust 2.0 released", "The compiler is faster."),
    ("Go 1.30 released", "Generics everywhere."),
    ("[Ad] Rust hosting", "Deploy in one click."),
    ("Weekly notes", "This issue is sponsored by Acme."),
]


def letter(items: list[tuple[str, str]]) -> str:
    entries: list[dict[str, Any]] = [
        {
            "title": title,
            "link": f"https://letter.example.com/p/{n}",
            "guid": f"post-{n}",
            "content": f"<p>{body}</p>",
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, (title, body) in enumerate(items)
    ]
    return rss_feed(list(reversed(entries)), title="The Letter", link="https://letter.example.com/")


class ShiftedClock:
    """The real clock plus an offset the test moves forward (the poller keeps polling)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return wall.time() + self.offset


async def answer(fake: FakeDiscord, world: Any, command: str, options: dict[str, Any]) -> str:
    handle: InteractionHandle = await fake.invoke_command(
        command,
        options,
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=world.admin_id,
    )
    message = await handle.final_message(timeout=10)
    assert message.ephemeral and not message.pinged.anyone
    return message.content + json.dumps(message.embeds)


def titles(fake: FakeDiscord, channel_id: int) -> list[str]:
    """The posts' titles as read (without the markdown escapes of `[`, `]`)."""
    return [post.embeds[0]["title"].replace("\\", "") for post in fake.bot_posts(channel_id)]


async def test_include_exclude_and_pattern_each_decide_what_is_posted(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    included = world.news_id
    excluded = fake.state.add_text_channel(world.guild_id, "no-sponsors").id
    patterned = fake.state.add_text_channel(world.guild_id, "no-ads").id
    feed_server.set("/feed.xml", letter(ARCHIVE))
    async with running_bot(tmp_path, fake) as bot:
        runtime = bot.runtime
        for channel in (included, excluded, patterned):
            added = await answer(
                fake,
                world,
                "feed add",
                {"url": feed_server.url("/feed.xml"), "channel": channel, "backfill": 0},
            )
            assert "Following" in added or "Already following" in added
        feed = "The Letter"

        shown = await answer(
            fake, world, "feed filter", {"feed": feed, "channel": included, "include": "rust"}
        )
        assert 'only items matching "rust"' in shown
        assert "would post 1 of the last 2" in shown and "Rust intro" in shown
        assert 'include "rust" (not matched)' in shown  # Go intro, held back, names the rule
        shown = await answer(
            fake, world, "feed filter", {"feed": feed, "channel": excluded, "exclude": "sponsored"}
        )
        assert 'never items matching "sponsored"' in shown and "would post 2 of the last 2" in shown
        shown = await answer(
            fake, world, "feed filter", {"feed": feed, "channel": patterned, "pattern": r"^\[Ad\]"}
        )
        assert "never items whose title or summary matches the pattern" in shown

        listed = await answer(fake, world, "feed list", {})
        assert listed.count("filter:") == 3
        status = await answer(fake, world, "feed status", {"feed": feed})
        assert f"Filter in <#{excluded}>" in status

        feed_server.set("/feed.xml", letter(ARCHIVE + NEWS))
        await fake.wait_for_messages(included, 2, timeout=20)
        await fake.wait_for_messages(excluded, 3, timeout=20)
        await fake.wait_for_messages(patterned, 3, timeout=20)

        async def settled() -> bool:
            counts = await runtime.store.deliveries.counts()
            return counts["pending"] == counts["sending"] == 0

        await until(settled, what="every queued post sent")
        assert titles(fake, included) == ["Rust 2.0 released", "[Ad] Rust hosting"]
        assert titles(fake, excluded) == [
            "Rust 2.0 released",
            "Go 1.30 released",
            "[Ad] Rust hosting",
        ]
        assert titles(fake, patterned) == ["Rust 2.0 released", "Go 1.30 released", "Weekly notes"]

        # Filtered items are archived and searchable all the same.
        found = await answer(fake, world, "search", {"query": "sponsored acme"})
        assert "Weekly notes" in found


async def test_an_unusable_filter_is_refused_and_nothing_is_half_applied(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/feed.xml", letter(ARCHIVE))
    async with running_bot(tmp_path, fake) as bot:
        await answer(
            fake, world, "feed add", {"url": feed_server.url("/feed.xml"), "channel": world.news_id}
        )
        refused = await answer(
            fake,
            world,
            "feed filter",
            {"feed": "The Letter", "include": "rust", "pattern": r"(\w+) \1"},
        )
        assert "can't use that filter" in refused and "backreferences" in refused
        assert "Nothing changed" in refused
        refused = await answer(
            fake, world, "feed filter", {"feed": "The Letter", "pattern": "(?<=x)y"}
        )
        assert "lookbehind" in refused
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert view.subscription.filter is None
        assert "filter:" not in await answer(fake, world, "feed list", {})


async def test_a_digest_carries_only_what_the_filter_lets_through(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/feed.xml", letter(ARCHIVE))
    clock = ShiftedClock()
    async with running_bot(tmp_path, fake, clock=clock) as bot:
        runtime = bot.runtime
        await answer(
            fake,
            world,
            "feed add",
            {"url": feed_server.url("/feed.xml"), "channel": world.news_id, "mode": "digest"},
        )
        await answer(
            fake,
            world,
            "feed filter",
            {"feed": "The Letter", "exclude": "sponsored", "pattern": r"^\[Ad\]"},
        )
        slot = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
        scheduled = await answer(
            fake,
            world,
            "digest schedule",
            {
                "channel": world.news_id,
                "cadence": "daily",
                "time": slot.strftime("%H:%M"),
                "timezone": "UTC",
            },
        )
        assert "gets a digest daily" in scheduled

        feed_server.set("/feed.xml", letter(ARCHIVE + NEWS))
        clock.offset += 60

        async def polled() -> bool:
            await runtime.poller.poll_due()
            return await runtime.store.items.count() >= len(ARCHIVE) + len(NEWS)

        await until(polled, what="the new items archived")
        clock.offset = slot.timestamp() - wall.time() + 30
        (due,) = await runtime.digests.run_due()
        assert due.queued and due.item_count == 2
        (digest,) = await fake.wait_for_messages(world.news_id, 1, timeout=10)
        entries = " ".join(e.get("description", "") for e in digest.embeds)
        assert "Rust 2.0 released" in entries and "Go 1.30 released" in entries
        assert "Weekly notes" not in entries and "Rust hosting" not in entries


async def test_a_filter_survives_an_opml_export_and_import(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    other = fake.state.add_standard_guild("Other Guild")
    feed_server.set("/feed.xml", letter(ARCHIVE))
    wanted = {
        "include": '"rust" OR go',
        "exclude": "sponsored -official",
        "pattern": r"(?i)^\[ad\]",
    }
    async with running_bot(tmp_path, fake) as bot:
        await answer(
            fake, world, "feed add", {"url": feed_server.url("/feed.xml"), "channel": world.news_id}
        )
        await answer(fake, world, "feed filter", {"feed": "The Letter", **wanted})
        handle = await fake.invoke_command(
            "feed export",
            {},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        (file,) = (await handle.final_message(timeout=10)).attachments
        (exported,) = parse_opml(file.data)
        assert exported.filter is not None and exported.filter.pattern == wanted["pattern"]

        handle = await fake.invoke_command(
            "feed import",
            {"file": AttachmentOpt("feeds.opml", file.data), "channel": other.news_id},
            guild_id=other.guild_id,
            channel_id=other.general_id,
            user_id=other.admin_id,
        )
        await handle.wait_for(
            lambda h: h.record.original is not None and "finished" in h.record.original.content,
            timeout=15,
        )
        (view,) = await bot.runtime.subscriptions.for_guild(other.guild_id)
        assert view.subscription.filter is not None
        assert (
            view.subscription.filter.include,
            view.subscription.filter.exclude,
            view.subscription.filter.pattern,
        ) == (wanted["include"], wanted["exclude"], wanted["pattern"])


async def test_an_imported_filter_that_cannot_be_used_is_reported_in_the_members_language(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    """The feed is added without its filter, and the report says why in Japanese to a
    Japanese-speaking admin (the note is a sentence of the catalogue, not English)."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set("/feed.xml", letter(ARCHIVE))
    opml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<opml version="2.0" xmlns:digestbot="https://github.com/digestbot/digestbot/ns/opml">'
        "<head><title>feeds</title></head><body>"
        f'<outline type="rss" text="The Letter" xmlUrl="{feed_server.url("/feed.xml")}" '
        'digestbot:pattern="(unclosed"/></body></opml>'
    ).encode()
    async with running_bot(tmp_path, fake) as bot:
        handle = await fake.invoke_command(
            "feed import",
            {"file": AttachmentOpt("feeds.opml", opml), "channel": world.news_id},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
            locale="ja",
        )
        await handle.wait_for(
            lambda h: h.record.original is not None and bool(h.record.original.attachments),
            timeout=15,
        )
        assert handle.record.original is not None
        (report,) = handle.record.original.attachments
        text = report.data.decode()
        assert "フィルターは適用されませんでした" in text and "its filter" not in text
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert view.subscription.filter is None
