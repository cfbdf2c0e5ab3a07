"""Rendering items for Discord: no pings, only safe links, every limit holds."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import discord
import pytest

from bot.delivery.discord_message import send_kwargs, to_embed
from bot.delivery.terminal import to_text
from bot.features.posts.render import (
    COMPACT_MAX_CHARS,
    format_duration,
    render_card,
    render_compact,
    render_post,
)
from bot.model import EMBED_AUTHOR_LIMIT as AUTHOR_LIMIT
from bot.model import EMBED_DESCRIPTION_LIMIT as DESCRIPTION_LIMIT
from bot.model import EMBED_FIELD_NAME_LIMIT as FIELD_NAME_LIMIT
from bot.model import EMBED_FIELD_VALUE_LIMIT as FIELD_VALUE_LIMIT
from bot.model import EMBED_FOOTER_LIMIT as FOOTER_LIMIT
from bot.model import EMBED_TITLE_LIMIT as TITLE_LIMIT
from bot.model import EMBED_TOTAL_LIMIT, ItemView, Message
from bot.safe import (
    ZWSP,
    discord_timestamp,
    escape_markdown,
    fit_text,
    neutralize_mentions,
    safe_url,
    truncate,
)


def render_item_embed(item: ItemView) -> discord.Embed:
    """The card as Discord gets it (the renderer, then the Discord adapter)."""
    return to_embed(render_card(item))


def render_item_compact(item: ItemView) -> discord.Embed:
    return to_embed(render_compact(item))


def embed_size(embed: discord.Embed) -> int:
    return len(embed)


HOSTILE = "@everyone free nitro <@&123> <@456>"
PUBLISHED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

# Anything Discord would parse as a ping or mention.
_PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)


def make_item(**changes: object) -> ItemView:
    base = ItemView(
        item_id=1,
        feed_id=7,
        feed_title="Interconnects",
        feed_url="https://www.interconnects.ai/feed",
        site_url="https://www.interconnects.ai",
        title="A post about models",
        url="https://www.interconnects.ai/p/models",
        author="Nathan",
        published=PUBLISHED,
        summary="A short summary of the post.",
        image_url="https://cdn.example.com/cover.png",
        enclosure_url=None,
        enclosure_type=None,
        duration_s=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def embed_texts(embed: discord.Embed) -> list[str]:
    texts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    texts.append(embed.author.name or "")
    for field in embed.fields:
        texts += [field.name or "", field.value or ""]
    return texts


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= TITLE_LIMIT
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed.author.name or "") <= AUTHOR_LIMIT
    assert len(embed.footer.text or "") <= FOOTER_LIMIT
    for field in embed.fields:
        assert len(field.name or "") <= FIELD_NAME_LIMIT
        assert len(field.value or "") <= FIELD_VALUE_LIMIT
    assert embed_size(embed) <= EMBED_TOTAL_LIMIT


# --- sanitize -------------------------------------------------------------------------------


def test_neutralize_mentions_breaks_every_mention_form() -> None:
    text = "@everyone @here @Everyone <@1> <@!2> <@&3> <#4> </cmd:5>"
    out = neutralize_mentions(text)
    assert not _PING.search(out)
    assert "</cmd:5>" not in out
    # Still readable: removing the zero-width spaces gives the original back.
    assert out.replace(ZWSP, "") == text


def test_escape_markdown_escapes_layout_breakers_but_not_urls() -> None:
    out = escape_markdown("**bold** _x_ [a](b) ||spoiler|| `code` https://e.com/a_b")
    assert "**" not in out.replace("\\*", "")
    assert "\\[" in out and "\\]" in out
    assert "\\|\\|" in out and "\\`" in out
    assert out.endswith("https://e.com/a_b")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "https://",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "https://example.com/\u202e",
        "//example.com/x",
        "https://example.com/" + "a" * 2048,
        "",
        None,
    ],
)
def test_safe_url_rejects_unsafe(url: str | None) -> None:
    assert safe_url(url) is None


def test_safe_url_keeps_http_and_https() -> None:
    assert safe_url("https://example.com/a?b=c") == "https://example.com/a?b=c"
    assert safe_url("HTTP://example.com") == "HTTP://example.com"


def test_truncate_ends_on_a_word_with_ellipsis() -> None:
    text = "the quick brown fox jumps over the lazy dog"
    out = truncate(text, 20)
    assert len(out) <= 20
    assert out == "the quick brown fox…"
    assert truncate(text, 100) == text


def test_truncate_hard_cuts_a_single_long_word() -> None:
    out = truncate("x" * 500, 50)
    assert out == "x" * 49 + "…"


def test_fit_text_never_exceeds_limit_after_escaping() -> None:
    out = fit_text("*_" * 5000, 256)
    assert len(out) <= 256
    assert out.endswith("…")
    # No dangling escape right before the ellipsis.
    assert not out.endswith("\\…")


def test_discord_timestamp() -> None:
    assert discord_timestamp(PUBLISHED) == f"<t:{int(PUBLISHED.timestamp())}:R>"
    assert discord_timestamp(PUBLISHED, "F").endswith(":F>")
    with pytest.raises(ValueError):
        discord_timestamp(datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        discord_timestamp(PUBLISHED, "x")


# --- embeds ---------------------------------------------------------------------------------


def test_hostile_title_pings_no_one() -> None:
    item = make_item(title=HOSTILE, summary=HOSTILE + " @here", author=HOSTILE, feed_title=HOSTILE)
    kwargs = send_kwargs(render_post(item, mention_role_id=None))
    assert "content" not in kwargs
    assert dict(kwargs["allowed_mentions"].to_dict()) == {"parse": []}
    (embed,) = kwargs["embeds"]
    for text in embed_texts(embed):
        assert not _PING.search(text), text
    assert "free nitro" in (embed.title or "")


def test_opted_in_role_is_the_only_ping() -> None:
    item = make_item(title=HOSTILE)
    kwargs = send_kwargs(render_post(item, mention_role_id=999))
    assert kwargs["content"] == "<@&999>"
    assert dict(kwargs["allowed_mentions"].to_dict()) == {"parse": [], "roles": [999]}
    assert not _PING.search(kwargs["embeds"][0].title or "")


def test_embed_has_title_link_summary_feed_author_image_time() -> None:
    embed = render_item_embed(make_item())
    assert embed.title == "A post about models"
    assert embed.url == "https://www.interconnects.ai/p/models"
    assert embed.description == "A short summary of the post."
    assert embed.author.name == "Interconnects"
    assert embed.author.url == "https://www.interconnects.ai"
    assert embed.footer.text == "by Nathan"
    assert embed.image.url == "https://cdn.example.com/cover.png"
    assert embed.timestamp == PUBLISHED
    assert render_card(make_item()).size() == len(embed)


def test_javascript_urls_are_dropped() -> None:
    item = make_item(
        url="javascript:alert(1)",
        site_url="javascript:alert(2)",
        feed_url="javascript:alert(3)",
        image_url="javascript:alert(4)",
        enclosure_url="javascript:alert(5)",
        enclosure_type="audio/mpeg",
        duration_s=60,
    )
    embed = render_item_embed(item)
    payload = str(embed.to_dict())
    assert "javascript" not in payload
    assert embed.url is None and embed.image.url is None and embed.author.url is None
    assert [f.name for f in embed.fields] == ["Duration"]


def test_huge_inputs_stay_within_every_limit() -> None:
    word = "word "
    item = make_item(
        title="T" * 10_000,
        summary=(word * 20_000) + "*_`|~" * 1000,
        author="A" * 10_000,
        feed_title="F " * 5_000,
        enclosure_url="https://cdn.example.com/ep.mp3",
        enclosure_type="audio/mpeg",
        duration_s=10**9,
    )
    embed = render_item_embed(item)
    assert_within_limits(embed)
    assert (embed.title or "").endswith("…")
    assert (embed.description or "").endswith("…")
    # The description ends on a word: the kept text is whole words only.
    assert (embed.description or "").removesuffix("…").rstrip().endswith("word")


def test_huge_summary_is_shortened_to_fit_6000_total() -> None:
    item = make_item(title="t " * 200, summary="s " * 10_000, author="a " * 500)
    embed = render_item_embed(item)
    assert_within_limits(embed)
    assert len(embed.description or "") > 1000  # fills the room it has, not drop it


def test_markdown_in_titles_is_escaped() -> None:
    embed = render_item_embed(make_item(title="**Big** [news](https://evil.example) # hi"))
    title = embed.title or ""
    assert "\\*\\*Big\\*\\*" in title
    assert "\\[news\\]" in title


def test_podcast_has_duration_and_listen_link() -> None:
    item = make_item(
        enclosure_url="https://cdn.example.com/ep(1).mp3",
        enclosure_type="audio/mpeg",
        duration_s=3725,
        image_url=None,
    )
    embed = render_item_embed(item)
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Duration"] == "1:02:05"
    assert fields["Listen"] == "[Audio (mp3)](https://cdn.example.com/ep%281%29.mp3)"
    assert "Listen" not in {f.name for f in render_item_embed(make_item()).fields}


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (59, "0:59"), (61, "1:01"), (3600, "1:00:00")]
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_image_enclosure_is_used_as_image_not_listen() -> None:
    item = make_item(
        image_url=None, enclosure_url="https://cdn.example.com/pic.jpg", enclosure_type="image/jpeg"
    )
    embed = render_item_embed(item)
    assert embed.image.url == "https://cdn.example.com/pic.jpg"
    assert embed.fields == []


def test_empty_title_and_feed_title_get_placeholders() -> None:
    embed = render_item_embed(make_item(title="   ", feed_title=""))
    assert embed.title == "(untitled)"
    assert embed.author.name == "https://www.interconnects.ai"


def test_compact_embed_fits_ten_per_message_and_never_pings() -> None:
    item = make_item(title=HOSTILE + " x" * 5000, summary=HOSTILE + "\n" + "y " * 5000)
    embed = render_item_compact(item)
    assert embed_size(embed) <= COMPACT_MAX_CHARS
    description = embed.description or ""
    assert f"<t:{int(PUBLISHED.timestamp())}:R>" in description
    assert "Interconnects" in description
    assert description.count("\n") == 2  # header, details (by Nathan), one-line summary
    for text in embed_texts(embed):
        assert not _PING.search(text)
    assert embed.url == "https://www.interconnects.ai/p/models"


def test_text_rendering_for_console() -> None:
    item = make_item(
        title="Episode \x1b[31m12",
        enclosure_url="https://cdn.example.com/ep.mp3",
        enclosure_type="audio/mpeg",
        duration_s=95,
        url="javascript:alert(1)",
    )
    text = to_text(render_post(item))
    assert "\x1b" not in text
    assert "Episode [31m12" in text
    assert "May 1, 2024, 12:30:00\u202fPM UTC" in text
    assert "Duration: 1:35" in text
    assert "Listen: Audio (mp3) <https://cdn.example.com/ep.mp3>" in text
    assert "javascript" not in text
    assert "A short summary of the post." in text


def test_related_line_links_hostile_titles_safely_and_fits() -> None:
    related = [
        make_item(item_id=n, title=HOSTILE + " [x](javascript:alert(1))" + "T" * 500, url=url)
        for n, url in enumerate(["https://a.example.com/p", "javascript:alert(1)", None], 2)
    ]
    huge = make_item(title="T" * 10_000, summary="word " * 20_000)
    (embed,) = send_kwargs(Message(embeds=(render_card(huge, related=related),)))["embeds"]
    assert_within_limits(embed)
    (field,) = [f for f in embed.fields if f.name == "Related"]
    lines = (field.value or "").splitlines()
    assert len(lines) == 3 and all(":D>" in line for line in lines)
    assert lines[0].startswith("[") and "](https://a.example.com/p)" in lines[0]
    # No link to an unsafe URL, and the feed's own markdown link is escaped, not a link.
    assert not lines[1].startswith("[") and not lines[2].startswith("[")
    assert not re.search(r"(?<!\\)\]\(javascript", field.value or "")
    for text in embed_texts(embed):
        assert not _PING.search(text), text
    assert "Related" not in {f.name for f in render_item_embed(huge).fields}
