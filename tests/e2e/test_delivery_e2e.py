"""Channel delivery end to end: the real bot against the fake Discord, feeds on loopback.

Pings (only an opted-in role), a channel that loses permission (paused, told, resumed by
`/feed add`), 429s and 5xx on sends (retried, nothing lost, nothing posted twice), and a
dropped gateway (resumed, nothing lost).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.delivery.outbox import Outbox, OutboxSettings
from tests.deliveryfakes import until
from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord, Overwrite, StandardGuild, StoredMessage, permissions
from tests.feedserver import FeedServer, rss_feed

MESSAGES = r"/channels/\d+/messages$"
FEED_PATH = "/feed.xml"


@pytest.fixture
def quick_outbox_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox's real retry logic with a 0.2 s backoff base instead of 5 s, so a test that
    makes the outbox retry (a 503, a 429 without Via) ends in seconds."""
    monkeypatch.setattr(
        "bot.runtime.Outbox", functools.partial(Outbox, settings=OutboxSettings(backoff_base_s=0.2))
    )


def hostile(role_id: int, user_id: int) -> str:
    """Feed text that would ping everyone, a role and a member if it were sent as content."""
    return f"@everyone free nitro <@&{role_id}> <@{user_id}> @here"


def letter(titles: list[str], **fields: str) -> str:
    """An RSS feed whose items are `titles` (oldest first), with optional per-item fields."""
    items: list[dict[str, object]] = [
        {
            "title": title,
            "link": f"https://letter.example.com/p/{n}",
            "guid": f"post-{n}",
            "description": fields.get("description", f"Subtitle of {title}"),
            "content": f"<p>{title}: an opening paragraph with enough words to summarize.</p>",
            "author": fields.get("author", "Ann Author"),
            "pubDate": f"Mon, {n + 1:02d} Jan 2024 10:00:00 GMT",
        }
        for n, title in enumerate(titles)
    ]
    return rss_feed(list(reversed(items)), title="The Letter", link="https://letter.example.com/")


def embed_texts(message: StoredMessage) -> list[str]:
    """Every text a member could read in a message's embeds."""
    texts: list[str] = []
    for embed in message.embeds:
        texts += [str(embed.get(key) or "") for key in ("title", "description")]
        texts.append(str((embed.get("author") or {}).get("name") or ""))
        texts.append(str((embed.get("footer") or {}).get("text") or ""))
        for embed_field in embed.get("fields") or []:
            texts += [str(embed_field.get("name") or ""), str(embed_field.get("value") or "")]
    return texts


def titles_posted(fake: FakeDiscord, channel_id: int) -> list[str]:
    return [str(m.embeds[0]["title"]) for m in fake.bot_posts(channel_id) if m.embeds]


def normalized_allowed_mentions(message: StoredMessage) -> dict[str, Any]:
    allowed = dict(message.allowed_mentions or {})
    if "roles" in allowed:
        allowed["roles"] = [int(r) for r in allowed["roles"]]
    return allowed


async def add_feed(
    fake: FakeDiscord, world: StandardGuild, url: str, channel_id: int, **options: Any
) -> str:
    """`/feed add` by the admin; returns the ephemeral answer's text."""
    handle = await fake.invoke_command(
        "feed add",
        {"url": url, "channel": channel_id, **options},
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=world.admin_id,
    )
    answer = await handle.final_message(timeout=10)
    assert answer.ephemeral
    return answer.content


async def test_an_opted_in_role_is_the_only_ping_and_hostile_feed_text_pings_no_one(
    tmp_path: Path, store_target: str, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    readers = fake.state.add_role(world.guild_id, "Readers", mentionable=True)
    other = fake.state.add_role(world.guild_id, "Other", mentionable=True)
    text = hostile(other.id, world.member_id)
    plain = fake.state.add_text_channel(world.guild_id, "plain").id
    feed_server.set(FEED_PATH, letter(["Calm first post"]))
    async with running_bot(tmp_path, fake, db_path=store_target):
        answer = await add_feed(
            fake, world, feed_server.url(FEED_PATH), world.news_id, mention=readers.id
        )
        assert f"<@&{readers.id}>" in answer
        await add_feed(fake, world, feed_server.url(FEED_PATH), plain)
        await fake.wait_for_messages(world.news_id, 1, timeout=10)
        await fake.wait_for_messages(plain, 1, timeout=10)

        feed_server.set(FEED_PATH, letter(["Calm first post", text], description=text, author=text))
        await fake.wait_for_messages(world.news_id, 2, timeout=15)
        await fake.wait_for_messages(plain, 2, timeout=15)

    for post in fake.bot_posts(world.news_id):
        assert post.content == f"<@&{readers.id}>"
        assert normalized_allowed_mentions(post) == {"parse": [], "roles": [readers.id]}
        assert post.pinged.roles == (readers.id,)
        assert not post.pinged.everyone and post.pinged.users == ()
    for post in fake.bot_posts(plain):
        assert not post.content
        assert post.allowed_mentions == {"parse": []}
        assert not post.pinged.anyone

    for channel_id in (world.news_id, plain):
        hostile_post = fake.bot_posts(channel_id)[1]
        readable = " ".join(embed_texts(hostile_post))
        assert "free nitro" in readable  # shown, as text
        assert readable.count("free nitro") >= 2  # the title and the summary or author
        # neutralised: no mention syntax or mass mention survives anywhere in the embed
        assert not re.search(r"@(everyone|here)\b", readable)
        assert not re.search(r"<@[&!]?\d+>", readable)
        assert len(fake.bot_posts(channel_id)) == 2


@pytest.mark.parametrize(
    ("denied", "reason_words"),
    [
        (permissions.SEND_MESSAGES, "Missing Permissions"),
        (permissions.VIEW_CHANNEL, "Missing Access"),
    ],
)
async def test_a_channel_that_loses_permission_is_paused_told_and_resumed_by_feed_add(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    denied: int,
    reason_words: str,
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    url = feed_server.url(FEED_PATH)
    news_posts = rf"/channels/{world.news_id}/messages$"
    feed_server.set(FEED_PATH, letter(["One"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, url, world.news_id)
        await fake.wait_for_messages(world.news_id, 1, timeout=10)

        fake.set_overwrite(world.news_id, Overwrite.role(world.bot_role_id, deny=denied))
        feed_server.set(FEED_PATH, letter(["One", "Two", "Three"]))
        (dm,) = await fake.wait_for_dms(world.admin_id, 1, timeout=15)
        assert f"<#{world.news_id}>" in dm.content and reason_words in dm.content
        assert "The Letter" in dm.content and "/feed add" in dm.content
        assert not dm.pinged.anyone
        (notice,) = await fake.wait_for_messages(world.general_id, 1, timeout=10)
        assert notice.content == dm.content and not notice.pinged.anyone

        # Paused, not retried: new items keep arriving, but no request goes to the channel.
        refused = fake.count("POST", news_posts)
        assert refused == 2  # the first post, then the one refused
        feed_server.set(FEED_PATH, letter(["One", "Two", "Three", "Four"]))
        await fake.wait_until(lambda: feed_server.hits(FEED_PATH) >= 4, timeout=10)
        polls = feed_server.hits(FEED_PATH)
        await fake.wait_until(lambda: feed_server.hits(FEED_PATH) >= polls + 2, timeout=10)
        assert fake.count("POST", news_posts) == refused
        assert len(fake.dms(world.admin_id)) == 1
        assert len(fake.messages(world.general_id)) == 1

        listing = await fake.invoke_command(
            "feed list",
            {},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        shown = await listing.final_message(timeout=10)
        assert shown.ephemeral
        description = str(shown.embeds[0]["description"])
        assert "paused because" in description and reason_words in description

        fake.set_overwrite(world.news_id, Overwrite.role(world.bot_role_id))
        answer = await add_feed(fake, world, url, world.news_id)
        assert "The Letter" in answer
        await fake.wait_for_messages(world.news_id, 4, timeout=15)
        views = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert [v.health for v in views] == ["ok"]

    assert titles_posted(fake, world.news_id) == ["One", "Two", "Three", "Four"]


async def test_a_deleted_channel_is_paused_as_unknown_and_not_retried(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    news_posts = rf"/channels/{world.news_id}/messages$"
    feed_server.set(FEED_PATH, letter(["One"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id)
        await fake.wait_for_messages(world.news_id, 1, timeout=10)

        fake.delete_channel(world.news_id)
        feed_server.set(FEED_PATH, letter(["One", "Two", "Three"]))
        (dm,) = await fake.wait_for_dms(world.admin_id, 1, timeout=15)
        assert "Unknown Channel" in dm.content and "The Letter" in dm.content
        await fake.wait_for_messages(world.general_id, 1, timeout=10)
        polls = feed_server.hits(FEED_PATH)
        await fake.wait_until(lambda: feed_server.hits(FEED_PATH) >= polls + 2, timeout=10)
        assert fake.count("POST", news_posts) == 2  # the first post, then the one refused
        (view,) = await bot.runtime.subscriptions.for_guild(world.guild_id)
        assert view.health == "paused"
        assert view.subscription.paused_reason is not None
        assert "Unknown Channel" in view.subscription.paused_reason
        counts = await bot.runtime.store.deliveries.counts()
        assert counts["paused"] == 2 and counts["pending"] == 0


@pytest.mark.usefixtures("quick_outbox_retries")
async def test_rate_limits_and_server_errors_on_sends_are_retried_and_nothing_is_lost(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["Zero"]))
    async with running_bot(tmp_path, fake):
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        # In this order: a 500 (discord.py retries it itself, after 1 s), 429s with Via
        # (discord.py waits retry_after), a 429 without Via (raised: the outbox retries
        # later), a 503 (raised: the outbox retries).
        faults = [
            fake.faults.fail(MESSAGES, 500, count=1),
            fake.faults.rate_limit(MESSAGES, count=2, retry_after=0.2),
            fake.faults.rate_limit(MESSAGES, count=1, retry_after=0.2, with_via=False),
            fake.faults.fail(MESSAGES, 503, count=1),
        ]
        feed_server.set(FEED_PATH, letter(["Zero", "A", "B", "C"]))
        await fake.wait_for_messages(world.news_id, 3, timeout=30)
        assert [rule.hits for rule in faults] == [1, 2, 1, 1]

    assert titles_posted(fake, world.news_id) == ["A", "B", "C"]
    assert fake.ratelimits.channel_violations() == []


@pytest.mark.parametrize(("status", "lost_answers", "posts_requested"), [(500, 1, 3), (503, 2, 2)])
@pytest.mark.usefixtures("quick_outbox_retries")
async def test_a_send_whose_answer_is_lost_is_not_posted_twice(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    status: int,
    lost_answers: int,
    posts_requested: int,
) -> None:
    """Discord posted the message but its answer was lost. A 500: discord.py sends again
    itself, with the same nonce, and Discord answers with the message it already has. A 503:
    the outbox retries later and first looks at the channel's history, finds the message and
    does not send again."""
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["Zero"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        lost = fake.faults.fail(MESSAGES, status, count=lost_answers, after_effect=True)
        feed_server.set(FEED_PATH, letter(["Zero", "A", "B"]))
        await fake.wait_for_messages(world.news_id, 2, timeout=20)
        deliveries = bot.runtime.store.deliveries

        async def both_sent() -> bool:
            return (await deliveries.counts())["sent"] == 2

        await until(both_sent, what="both deliveries marked sent")
        assert lost.hits == lost_answers

    assert titles_posted(fake, world.news_id) == ["A", "B"]
    assert fake.count("POST", MESSAGES) == posts_requested
    if status == 503:
        assert fake.count("GET", MESSAGES) >= lost_answers  # looked before resending


async def test_a_dropped_gateway_resumes_and_items_of_the_gap_are_posted_once(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, letter(["One"]))
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id)
        await fake.wait_for_messages(world.news_id, 1, timeout=10)

        fake.gateway.available = False
        assert fake.drop_connection()
        feed_server.set(FEED_PATH, letter(["One", "Two", "Three"]))
        polls = feed_server.hits(FEED_PATH)
        await fake.wait_until(lambda: feed_server.hits(FEED_PATH) >= polls + 1, timeout=10)
        fake.set_overwrite(  # a change while disconnected: in the new session's GUILD_CREATE
            world.news_id, Overwrite.role(world.admin_role_id, deny=permissions.ADD_REACTIONS)
        )
        fake.gateway.available = True
        # discord.py's AutoShardedBot tries to RESUME once (refused: the outage), then
        # IDENTIFYs afresh; the new READY's GUILD_CREATE carries what changed meanwhile.
        await fake.wait_for_gateway("ready", 2, timeout=20)

        def overwrite_seen() -> bool:
            news = bot.get_channel(world.news_id)
            assert isinstance(news, discord.TextChannel)
            return any(target.id == world.admin_role_id for target in news.overwrites)

        await fake.wait_until(overwrite_seen, timeout=5)
        await fake.wait_for_messages(world.news_id, 3, timeout=15)

        feed_server.set(FEED_PATH, letter(["One", "Two", "Three", "Four"]))
        await fake.wait_for_messages(world.news_id, 4, timeout=15)
        handle = await fake.invoke_command(
            "feed list",
            {},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        assert (await handle.final_message(timeout=10)).ephemeral

    assert fake.gateway.kinds().count("identify") == 2  # the first, and one after the outage
    assert titles_posted(fake, world.news_id) == ["One", "Two", "Three", "Four"]
