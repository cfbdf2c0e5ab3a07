"""/why end to end: the real bot, discord.py, the fake Discord (which computes permission
overwrites as Discord does) and a loopback feed. One item, one line per channel that follows
its feed, each channel in another state; a channel the member cannot see is never named."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.model import DeliveryRow
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord
from tests.fakediscord import permissions as P
from tests.fakediscord.permissions import Overwrite
from tests.feedserver import FeedServer, rss_feed

SITE = "https://letter.example.com"
ARCHIVE = [("Rust intro", "Getting started.")]
NEWS = [("Go 1.30 released", "Generics everywhere.")]
GO_URL = f"{SITE}/p/1"  # NEWS[0]
RUST_INTRO_URL = f"{SITE}/p/0"


def letter(items: list[tuple[str, str]]) -> str:
    entries: list[dict[str, Any]] = [
        {
            "title": title,
            "link": f"{SITE}/p/{n}",
            "guid": f"post-{n}",
            "content": f"<p>{body}</p>",
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, (title, body) in enumerate(items)
    ]
    return rss_feed(list(reversed(entries)), title="The Letter", link=f"{SITE}/")


async def ask(
    fake: FakeDiscord, world: Any, user_id: int, command: str, options: dict[str, Any]
) -> str:
    handle = await fake.invoke_command(
        command, options, guild_id=world.guild_id, channel_id=world.general_id, user_id=user_id
    )
    message = await handle.final_message(timeout=10)
    assert message.ephemeral and not message.pinged.anyone
    return message.content + "".join(
        f"{e.get('title', '')}\n{e.get('description', '')}" for e in message.embeds
    )


def line_of(answer: str, channel_id: int) -> str:
    """The answer's line for a channel ('' when the channel is not named)."""
    return next((ln for ln in answer.splitlines() if f"<#{channel_id}>" in ln), "")


async def test_why_answers_each_state_and_never_names_a_hidden_channel(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    guild = world.guild_id
    channel = {
        name: fake.state.add_text_channel(guild, name).id
        for name in ("rust-only", "digest", "flaky", "refused", "locked")
    }
    # Members may not see #secret; the bot may post there.
    hidden = Overwrite.role(world.members_role_id, deny=P.VIEW_CHANNEL)
    secret = fake.state.add_text_channel(guild, "secret", overwrites=[hidden]).id
    feed_server.set("/feed.xml", letter(ARCHIVE))
    async with running_bot(tmp_path, fake) as bot:
        store = bot.runtime.store
        follows = [world.news_id, *channel.values(), secret]
        for target in follows:
            options: dict[str, Any] = {"url": feed_server.url("/feed.xml"), "channel": target}
            options |= {"backfill": 0, "mode": "digest" if target == channel["digest"] else None}
            added = await ask(fake, world, world.owner_id, "feed add", options)
            assert "Following" in added or "Already following" in added
        await ask(
            fake,
            world,
            world.owner_id,
            "feed filter",
            {"feed": "The Letter", "channel": channel["rust-only"], "include": "rust"},
        )
        slot = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
        scheduled = await ask(
            fake,
            world,
            world.owner_id,
            "digest schedule",
            {
                "channel": channel["digest"],
                "cadence": "daily",
                "time": slot.strftime("%H:%M"),
                "timezone": "UTC",
            },
        )
        assert "gets a digest daily" in scheduled
        posts = r"/channels/{}/messages$"
        # A 429 without Via reaches the bot at once (discord.py retries 5xx itself first).
        flaky_rule = posts.format(channel["flaky"])
        fake.faults.rate_limit(flaky_rule, method="POST", count=None, with_via=False)
        fake.faults.fail(posts.format(channel["refused"]), 400, method="POST", count=None)
        fake.set_overwrite(
            channel["locked"], Overwrite.role(world.bot_role_id, deny=P.SEND_MESSAGES)
        )

        feed_server.set("/feed.xml", letter(ARCHIVE + NEWS))
        await fake.wait_for_messages(world.news_id, 1, timeout=20)
        await fake.wait_for_messages(secret, 1, timeout=20)

        async def delivery(target: int) -> DeliveryRow | None:
            found = await store.deliveries.for_target("channel", target)
            return next((d for d in found if d.kind == "item"), None)

        async def retrying() -> bool:
            found = await delivery(channel["flaky"])
            return found is not None and found.state == "pending" and found.attempts >= 1

        async def failed() -> bool:
            found = await delivery(channel["refused"])
            return found is not None and found.state == "failed"

        async def paused() -> bool:
            subs = await store.subscriptions.for_channel(channel["locked"])
            return bool(subs) and subs[0].paused

        await until(retrying, timeout=20, what="the post to #flaky waiting for a retry")
        await until(failed, timeout=20, what="the post to #refused failed")
        await until(paused, timeout=20, what="#locked paused")

        flaky_before = await delivery(channel["flaky"])
        owner = await ask(fake, world, world.owner_id, "why", {"item": GO_URL})
        flaky_after = await delivery(channel["flaky"])
        assert "Go 1.30 released" in owner and "From **The Letter**" in owner
        (post,) = fake.bot_posts(world.news_id)
        news = line_of(owner, world.news_id)
        assert (
            "posted" in news
            and f"https://discord.com/channels/{guild}/{world.news_id}/{post.id}" in news
        )
        assert 'filter: include "rust" (not matched)' in line_of(owner, channel["rust-only"])
        assert f"waiting for the digest at <t:{int(slot.timestamp())}:f>" in line_of(
            owner, channel["digest"]
        )
        # Its next try, as the store had it just before or just after the answer (it retries).
        tries = {int(d.next_attempt_at) for d in (flaky_before, flaky_after) if d is not None}
        queued = re.search(
            r"queued: it goes out <t:(\d+):R> \(last try: (.+)\)", line_of(owner, channel["flaky"])
        )
        assert queued is not None and int(queued.group(1)) in tries
        assert "rate limited" in queued.group(2)
        assert "failed:" in line_of(owner, channel["refused"])
        (locked,) = await store.subscriptions.for_channel(channel["locked"])
        assert locked.paused_at is not None and locked.paused_reason
        assert f"paused since <t:{int(locked.paused_at)}:R>" in line_of(owner, channel["locked"])
        assert "posted" in line_of(owner, secret)  # the owner sees every channel

        # A member who cannot see #secret gets every line but that one.
        member = await ask(fake, world, world.member_id, "why", {"item": GO_URL})
        assert f"<#{secret}>" not in member and "secret" not in member
        assert line_of(member, world.news_id) == news
        assert line_of(member, channel["locked"]) == line_of(owner, channel["locked"])

        # An archive item (the feed was added with backfill 0), found by its title's words.
        archived = await ask(fake, world, world.member_id, "why", {"item": "rust intro"})
        assert "Rust intro" in archived
        assert "published before the feed was added here" in line_of(archived, world.news_id)

        # Autocomplete offers the guild's archive; its value names the item.
        handle = await fake.invoke_autocomplete(
            "why",
            "item",
            {"item": "go 1"},
            guild_id=guild,
            channel_id=world.general_id,
            user_id=world.member_id,
        )
        (choice,) = await handle.choices()
        assert choice["name"] == "Go 1.30 released"
        chosen = await ask(fake, world, world.member_id, "why", {"item": choice["value"]})
        assert line_of(chosen, world.news_id) == news

        # Not in the archive: what the bot knows about the site's feed, or that none has it.
        unknown = await ask(fake, world, world.member_id, "why", {"item": f"{SITE}/p/99"})
        assert "is not in the archive" in unknown and "The Letter" in unknown
        assert "next read <t:" in unknown
        elsewhere = await ask(
            fake, world, world.member_id, "why", {"item": "https://other.example.org/x"}
        )
        assert "is not in the archive" in elsewhere and "No feed of this server has it" in elsewhere
