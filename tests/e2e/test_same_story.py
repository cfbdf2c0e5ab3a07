"""One story, posted once per channel (issue 16): the real bot against the fake Discord, feeds
on loopback.

A story a channel already got from another of its feeds is not posted again: the earlier post
is edited (PATCH) to name the other feed under "Also in". Two different stories on one topic
stay two posts; `/feed merge … on:false` turns it off for a feed in a channel; a SIGKILL
between the skipped post and the edit still ends with one post naming both feeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.children import ChildProcesses
from tests.e2e.harness import running_bot
from tests.e2e.test_crash_real_bot import (
    READY_TIMEOUT_S,
    BotProcesses,
    bot_env,
    nothing_left_to_send,
)
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.feedserver import FeedServer, rss_feed

EDITS = r"/channels/\d+/messages/\d+$"
POSTS = r"/channels/\d+/messages$"
FEEDS = {"a": "Letter A", "b": "Letter B", "c": "Letter C"}

OPENING = (
    "The Commerce Department on Tuesday tightened its rules on exports of AI accelerator "
    "chips to a list of forty countries, closing a loophole that let resellers in third "
    "countries ship the newest data-centre parts without a licence. Officials said the rule "
    "takes effect in thirty days and covers cloud providers that rent the chips abroad."
)
STORY = {
    "title": "Commerce tightens AI chip export rules, closing reseller loophole",
    "link": "https://www.a.example.com/p/chip-export-rules",
    "description": OPENING,
}
# The same story syndicated on another site: another URL, lightly edited title and text.
SYNDICATED = {
    "title": "US Commerce tightens AI chip export rules, closing reseller loophole",
    "link": "https://b.example.org/2024/01/syndicated-chip-rules",
    "description": OPENING.replace("on Tuesday", "this week").replace("Officials", "Aides"),
}
# The same URL as the first, behind tracking parameters, with its own short blurb.
TRACKED = {
    "title": "Worth reading today",
    "link": "https://a.example.com/p/chip-export-rules/?utm_source=letter-c&utm_medium=email",
    "description": "A link we liked this morning.",
}
# Another story on the same topic: the same names and words, another event.
OTHER_STORY = {
    "title": "Chipmakers ask Commerce to delay AI accelerator export licences",
    "link": "https://b.example.org/2024/01/chipmakers-ask-delay",
    "description": (
        "Three chipmakers asked the Commerce Department to push back the licence deadline "
        "for AI accelerator exports by six months, arguing that cloud providers abroad "
        "need time to audit resellers. Their letter cites lost sales of data-centre parts "
        "and proposes a pilot programme with two allied countries first."
    ),
}


def feed(name: str, *items: dict[str, str]) -> str:
    """Feed `name`'s RSS: an old item (what `/feed add` posts first), then `items`."""
    entries: list[dict[str, object]] = [
        {
            "title": f"{FEEDS[name]} opens its archive with a note on what to expect",
            "link": f"https://{name}.example.net/p/hello",
            "guid": f"{name}-hello",
            "description": f"Welcome to {FEEDS[name]}, a letter about many different things.",
            "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT",
        }
    ]
    for n, item in enumerate(items, start=2):
        entries.append(
            {**item, "guid": f"{name}-{n}", "pubDate": f"Mon, {n:02d} Jan 2024 10:00:00 GMT"}
        )
    return rss_feed(list(reversed(entries)), title=FEEDS[name], link=f"https://{name}.example/")


def path(name: str) -> str:
    return f"/{name}.xml"


async def command(
    fake: FakeDiscord, world: StandardGuild, name: str, options: dict[str, Any]
) -> str:
    handle = await fake.invoke_command(
        name, options, guild_id=world.guild_id, channel_id=world.news_id, user_id=world.admin_id
    )
    answer = await handle.final_message(timeout=15)
    assert answer.ephemeral
    return answer.content


def also_in(message: StoredMessage) -> str | None:
    """The "Also in" field of a post's card, if it has one."""
    for embed_field in message.embeds[0].get("fields") or []:
        if embed_field.get("name") == "Also in":
            return str(embed_field.get("value"))
    return None


def titles(fake: FakeDiscord, channel_id: int) -> list[str]:
    return [str(m.embeds[0]["title"]) for m in fake.bot_posts(channel_id) if m.embeds]


async def subscribe_all(
    fake: FakeDiscord, world: StandardGuild, server: FeedServer, names: str
) -> None:
    """`/feed add` each feed in #news; each posts its old item."""
    for count, name in enumerate(names, start=1):
        server.set(path(name), feed(name))
        answer = await command(
            fake, world, "feed add", {"url": server.url(path(name)), "channel": world.news_id}
        )
        assert FEEDS[name] in answer, answer
        await fake.wait_for_messages(world.news_id, count, timeout=15)


async def test_one_post_per_story_edited_to_name_each_further_source(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake, server = fake_discord, feed_server
    world = fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake):
        await subscribe_all(fake, world, server, "abc")
        server.set(path("a"), feed("a", STORY))
        await fake.wait_for_messages(world.news_id, 4, timeout=15)
        story_post = fake.bot_posts(world.news_id)[-1]
        assert story_post.embeds[0]["title"] == STORY["title"] and also_in(story_post) is None

        # Letter B syndicates it: no post; the first post is edited once to name Letter B.
        server.set(path("b"), feed("b", SYNDICATED))
        await fake.wait_until(lambda: fake.count("PATCH", EDITS) == 1, timeout=15)
        edited = fake.bot_posts(world.news_id)[-1]
        assert edited.id == story_post.id and edited.edited_at is not None
        assert also_in(edited) == f"[Letter B]({SYNDICATED['link']})"
        assert edited.embeds[0]["title"] == STORY["title"]  # still Letter A's post
        handle = await fake.invoke_command(
            "why",
            {"item": SYNDICATED["link"]},
            guild_id=world.guild_id,
            channel_id=world.news_id,
            user_id=world.member_id,
        )
        why = str((await handle.final_message(timeout=15)).embeds[0]["description"])
        assert f"<#{world.news_id}>: merged into the post of **Letter A**" in why, why
        assert f"/{world.news_id}/{story_post.id})" in why  # the jump link to that post

        # Letter C links the same URL behind tracking parameters: edited again, both named.
        server.set(path("c"), feed("c", TRACKED))
        await fake.wait_until(lambda: fake.count("PATCH", EDITS) == 2, timeout=15)
        value = also_in(fake.bot_posts(world.news_id)[-1]) or ""
        assert value.startswith("[Letter B](") and ", [Letter C](" in value

        # Another story on the same topic from Letter B is a post of its own.
        server.set(path("b"), feed("b", SYNDICATED, OTHER_STORY))
        await fake.wait_for_messages(world.news_id, 5, timeout=15)
        assert titles(fake, world.news_id)[-1] == OTHER_STORY["title"]
        assert also_in(fake.bot_posts(world.news_id)[-1]) is None
        posts_of_story = [t for t in titles(fake, world.news_id) if "reseller loophole" in t]
        assert len(posts_of_story) == 1
        assert fake.count("PATCH", EDITS) == 2


async def test_a_feed_with_merging_off_posts_the_story_again(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake, server = fake_discord, feed_server
    world = fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake):
        await subscribe_all(fake, world, server, "ab")
        answer = await command(fake, world, "feed merge", {"feed": "Letter B", "on": False})
        assert "Letter B" in answer and "even a story" in answer, answer
        server.set(path("a"), feed("a", STORY))
        await fake.wait_for_messages(world.news_id, 3, timeout=15)
        server.set(path("b"), feed("b", SYNDICATED))
        await fake.wait_for_messages(world.news_id, 4, timeout=15)
    assert titles(fake, world.news_id)[-2:] == [STORY["title"], SYNDICATED["title"]]
    assert fake.count("PATCH", EDITS) == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("edit_applied", [False, True], ids=["before-edit", "edit-answer-lost"])
async def test_a_sigkill_between_the_skipped_post_and_the_edit_still_names_both(
    tmp_path: Path, child_processes: ChildProcesses, edit_applied: bool
) -> None:
    """The real `digestbot run` process, SIGKILLed while the edit's PATCH is held (before
    Discord applied it, or after with its answer lost); the restarted bot edits the post, and
    the story is still posted once."""
    async with FakeDiscord.serve() as fake, FeedServer() as server:
        world = fake.state.add_standard_guild()
        bots = BotProcesses(fake, bot_env(fake, tmp_path), tmp_path / "bot.log", child_processes)
        bot = await bots.start_ready()
        await fake.wait_for_sync(1, timeout=READY_TIMEOUT_S)
        await subscribe_all(fake, world, server, "ab")
        server.set(path("a"), feed("a", STORY))
        await fake.wait_for_messages(world.news_id, 3, timeout=READY_TIMEOUT_S)

        held = fake.faults.delay(EDITS, 120.0, method="PATCH", after_effect=edit_applied)
        server.set(path("b"), feed("b", SYNDICATED))
        await fake.wait_until(lambda: held.hits == 1, timeout=READY_TIMEOUT_S, what="the edit")
        await bots.sigkill(bot)
        fake.faults.remove(held)

        bot = await bots.start_ready()
        db = tmp_path / "bot.db"
        await fake.wait_until(
            lambda: fake.count("PATCH", EDITS) >= 2 and nothing_left_to_send(db),
            timeout=READY_TIMEOUT_S,
            what="the edit done and nothing left to send",
        )
        await bots.stop(bot)
        story_posts = [m for m in fake.bot_posts(world.news_id) if "loophole" in str(m.embeds)]
        assert len(fake.bot_posts(world.news_id)) == 3, bots.log_tail()
        assert len(story_posts) == 1
        assert also_in(story_posts[0]) == f"[Letter B]({SYNDICATED['link']})", bots.log_tail()
