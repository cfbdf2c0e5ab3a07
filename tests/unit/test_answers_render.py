"""The `/feed`, `/follow` and `/digest` answers: one render each, feed and member text made
safe in it, the channel named by the label the caller gives (Discord or console)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.delivery.terminal import to_text
from bot.features.digest.render import PREVIEW_MESSAGES, render_preview
from bot.features.digest.service import DigestPreview
from bot.features.feeds.render import render_add_failed, render_list, render_remove, render_status
from bot.features.feeds.subscriptions import FeedRemoval, FeedStatus
from bot.features.follow.render import render_following
from bot.features.follow.service import FollowedTopic
from bot.model import Embed, GuildFeed, Message, SubscriptionRow, SubscriptionView, TopicRow

HOSTILE = "@everyone **Evil** <@&42> \x1b[2Jsnake_case_Letter"
NOW = 1_714_000_000.0


def view(channel_id: int = 7) -> SubscriptionView:
    sub = SubscriptionRow(1, 1, channel_id, 3, "instant", None, None, NOW, None, None)
    return SubscriptionView(
        sub, HOSTILE, "https://e.example/feed", None, NOW - 60, NOW + 600, None, 2,
        "HTTP 500 from @here", NOW - 3600, False,
    )  # fmt: skip


def assert_safe(message: Message) -> str:
    """The Discord text pings nobody and carries no markdown of the feed's; the terminal
    reading shows the title's words without escapes or control characters."""
    parts = [message.content or ""]
    parts += [(e.title or "") + (e.description or "") for e in message.embeds]
    discord_text = "\n".join(parts)
    assert "@everyone" not in discord_text and "@here" not in discord_text
    assert "<@&42>" not in discord_text and "**Evil**" not in discord_text
    assert "\x1b" not in discord_text
    text = to_text(message)
    assert "Evil" in text and "snake_case_Letter" in text
    assert "\\" not in text and "\x1b" not in text
    return text


def test_feed_answers_make_feed_text_safe_and_name_the_channel_given() -> None:
    listed = render_list([view()], {7: "#console"})
    assert listed.embeds[0].title == "Feeds in this server"
    assert "→ #console · instant" in assert_safe(listed)
    assert "→ <#7>" in (render_list([view()]).embeds[0].description or "")
    status = render_status(FeedStatus([view(7), view(8)], NOW))
    assert "Posts in: <#7>, <#8>" in (status.content or "")
    assert f"<t:{int(NOW - 3600)}:R>" in (status.content or "")  # each member's own zone
    assert "Consecutive errors: 2" in assert_safe(status)
    removal = FeedRemoval(GuildFeed(3, HOSTILE, "https://e.example/feed", (7,)), 1)
    removed = render_remove(removal, channel="#console")
    assert "from #console (1 subscription)." in assert_safe(removed)


def test_following_makes_the_members_topic_safe() -> None:
    topic = TopicRow(1, 1, 1, HOSTILE, "k", 3, NOW, 2, NOW)
    answer = render_following([FollowedTopic(topic, HOSTILE)])
    text = assert_safe(answer)
    assert "2 matches, last" in text and f"<t:{int(NOW)}:R>" in (answer.content or "")


def test_a_long_digest_preview_is_capped_and_says_how_many_more() -> None:
    when = datetime.fromtimestamp(NOW, tz=UTC)
    messages = [
        Message(content=f"part {n}", embeds=(Embed(title=f"E{n}"),), mention_role_id=9)
        for n in range(PREVIEW_MESSAGES + 2)
    ]
    shown = render_preview(DigestPreview(messages, 30, when), channel="<#7>")
    assert len(shown) == PREVIEW_MESSAGES + 1
    assert shown[0].content == "Preview (only you see this):\npart 0"
    assert shown[-1].content == "…and 2 more messages in the real digest."
    assert all(m.mention_role_id is None for m in shown)  # a preview pings nobody
    (empty,) = render_preview(DigestPreview([], 0, when), channel="#console")
    assert to_text(empty).startswith("Nothing for #console's digest yet")


def test_a_refused_feed_add_quotes_the_servers_words_through_the_gate() -> None:
    answer = render_add_failed("the server answered 503 @everyone \x1b[31m<@&42>")
    content = answer.content or ""
    assert "@everyone" not in content and "<@&42>" not in content and "\x1b" not in content
    assert content.startswith("Sorry, I couldn't add that feed: the server answered 503")
