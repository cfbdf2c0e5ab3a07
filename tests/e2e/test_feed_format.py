"""`/feed format` (card, compact, text and templates) and `/feed preview` through the real bot
and the fake Discord: what is posted, what the preview shows, and that hostile or over-long
text stays within Discord's limits and pings no one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.harness import running_bot
from tests.e2e.test_delivery_e2e import add_feed, hostile
from tests.e2e.test_feed_mention_and_test_post import admin_command
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.feedserver import FeedServer, rss_feed

FEED_PATH = "/stack.xml"
EVERY_PLACEHOLDER = (
    "T={title} L={link} S={summary:80} E={excerpt:300} A={author} F={feed} P={published} "
    "I={image} D={duration} U={audio}"
)

# A Substack-shaped post: the story (bold, italics, a link, a list) between the furniture a
# Substack feed carries (share and subscribe widgets, the reader-supported pitch, an image).
SUBSTACK_BODY = """
<p><strong>Big news</strong> from the <em>lab</em>: read
<a href="https://lab.example/news?ref=1">the announcement</a>.</p>
<div class="captioned-image-container"><figure><a class="image-link image2"
 href="https://substackcdn.com/image/fetch/full.png"><img src="https://substackcdn.com/x.png"
 width="1456" height="800"></a></figure></div>
<p class="button-wrapper" data-attrs="{}"><a class="button primary"
 href="https://stack.example.com/subscribe"><span>Subscribe now</span></a></p>
<p>Three things changed:</p>
<ul><li>speed</li><li>price</li></ul>
<div class="subscription-widget-wrap-editor" data-component-name="SubscribeWidgetToDOM">
<div class="subscription-widget show-subscribe"><div class="preamble"><p>The Stack is a
reader-supported publication. To receive new posts, consider becoming a subscriber.</p></div>
<form class="subscription-widget-subscribe"><input type="email" placeholder="Type your email…">
</form></div></div>
<p class="button-wrapper"><a class="button primary"
 href="https://stack.example.com/p/one?action=share"><span>Share</span></a></p>
<p><script>alert(1)</script>That is all.</p>
"""


def stack_feed(body: str = SUBSTACK_BODY, title: str = "Model day", summary: str = "") -> str:
    item: dict[str, object] = {
        "title": title,
        "link": "https://stack.example.com/p/one",
        "guid": "one",
        "description": summary or "What the lab released today",
        "content": body,
        "author": "Jane Writer",
        "pubDate": "Mon, 01 Jan 2024 10:00:00 GMT",
        "duration": "1:02:05",
        "enclosure": {"url": "https://cdn.stack.example/ep1.mp3", "type": "audio/mpeg"},
        "image": "https://cdn.stack.example/cover.png",
    }
    return rss_feed([item], title="The Stack", link="https://stack.example.com/")


async def feed_id(bot: Any, guild_id: int) -> str:
    (view,) = await bot.runtime.subscriptions.for_guild(guild_id)
    return str(view.subscription.feed_id)


async def posted_by_test(
    fake: FakeDiscord, world: StandardGuild, feed: str, n: int
) -> StoredMessage:
    """`/feed test` in #news; the n-th post there (1-based)."""
    await admin_command(fake, world, "feed test", {"feed": feed, "channel": world.news_id})
    await fake.wait_for_messages(world.news_id, n, timeout=15)
    return fake.bot_posts(world.news_id)[n - 1]


def assert_pings_no_one(message: StoredMessage) -> None:
    assert message.allowed_mentions == {"parse": []}
    assert not message.pinged.anyone


async def test_each_style_posts_what_the_preview_showed(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, stack_feed())
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id(bot, world.guild_id)
        options = {"feed": feed, "channel": world.news_id}

        answer = await admin_command(
            fake, world, "feed format", {**options, "style": "text", "template": EVERY_PLACEHOLDER}
        )
        assert "text" in answer.content
        preview = await admin_command(fake, world, "feed preview", options)
        post = await posted_by_test(fake, world, feed, 1)
        assert (post.content, post.embeds) == (preview.content, preview.embeds)
        assert not post.embeds
        text = post.content
        assert text.startswith("T=Model day L=https://stack.example.com/p/one S=What the lab")
        assert "A=Jane Writer F=The Stack P=<t:1704103200:f>" in text
        assert "I=https://cdn.stack.example/cover.png D=1:02:05" in text
        assert text.endswith("U=https://cdn.stack.example/ep1.mp3")
        excerpt = text.split("E=", 1)[1].split(" A=", 1)[0]
        assert "**Big news**" in excerpt and "*lab*" in excerpt
        assert "[the announcement](https://lab.example/news?ref=1)" in excerpt
        assert "- speed\n- price" in excerpt
        for furniture in ("Subscribe", "Share", "reader-supported", "email", "substackcdn"):
            assert furniture not in excerpt
        assert "alert" not in excerpt
        assert len(excerpt) <= 300
        assert_pings_no_one(post)

        await admin_command(fake, world, "feed format", {**options, "style": "compact"})
        preview = await admin_command(fake, world, "feed preview", options)
        post = await posted_by_test(fake, world, feed, 2)
        assert (post.content, post.embeds) == (preview.content, preview.embeds)
        assert not post.embeds
        # The compact line keeps the template (set above) before it.
        assert post.content.endswith(
            "\n[Model day](https://stack.example.com/p/one) · The Stack · <t:1704103200:R>"
        )

        await admin_command(fake, world, "feed format", {**options, "reset": True})
        preview = await admin_command(fake, world, "feed preview", options)
        post = await posted_by_test(fake, world, feed, 3)
        assert (post.content, post.embeds) == (preview.content, preview.embeds)
        (card,) = post.embeds
        assert card["title"] == "Model day" and not post.content


async def test_an_unknown_placeholder_is_refused_and_changes_nothing(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    feed_server.set(FEED_PATH, stack_feed())
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id(bot, world.guild_id)
        refused = await admin_command(
            fake, world, "feed format", {"feed": feed, "style": "text", "template": "{titel}"}
        )
        assert "{titel}" in refused.content and "{excerpt}" in refused.content
        post = await posted_by_test(fake, world, feed, 1)
        assert post.embeds and not post.content  # still the card


async def test_hostile_and_over_long_text_fits_and_pings_no_one(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    other = fake.state.add_role(world.guild_id, "Other", mentionable=True)
    bad = hostile(other.id, world.member_id)
    long_body = "".join(
        f"<p>{bad} <b>paragraph {n}</b> " + "word " * 120 + "</p>" for n in range(40)
    )
    feed_server.set(FEED_PATH, stack_feed(long_body, title=f"{bad} title", summary=bad * 30))
    template = "{title} {excerpt} {summary} {excerpt:1500} {title} " + "x" * 400
    async with running_bot(tmp_path, fake) as bot:
        await add_feed(fake, world, feed_server.url(FEED_PATH), world.news_id, backfill=0)
        feed = await feed_id(bot, world.guild_id)
        options = {"feed": feed, "channel": world.news_id}
        await admin_command(
            fake, world, "feed format", {**options, "style": "text", "template": template}
        )
        preview = await admin_command(fake, world, "feed preview", options)
        post = await posted_by_test(fake, world, feed, 1)
        assert post.content == preview.content
        assert len(post.content) <= 2000
        assert "@everyone" not in post.content and f"<@&{other.id}>" not in post.content
        assert "**paragraph 0**" in post.content  # the excerpt's own bold is kept
        assert_pings_no_one(post)
        assert_pings_no_one(preview)
