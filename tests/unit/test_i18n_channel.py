"""Channel output, topic DMs, notices and the console in the reader's language: the language a
channel or a member gets, notices written when sent, and no English of ours outside the
catalogue in these files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.delivery.discord_threads import thread_name
from bot.delivery.terminal import _MARKDOWN as TERMINAL_MARKDOWN
from bot.delivery.thread_title import with_thread_title
from bot.features.feeds.render import render_archive, render_more_items
from bot.features.posts.language import Languages, slash
from bot.features.posts.notices import (
    failing_payload,
    paused_payload,
    recovered_payload,
    render_notice,
)
from bot.i18n import use_locale
from bot.model import Attachment, Embed, Message
from bot.store import Store
from tests.i18n import ROOT, english_literals

# Files whose every user-facing word goes through the catalogue (with tests/unit/test_i18n.py's).
CONVERTED = (
    "bot/console/commands.py",
    "bot/console/repl.py",
    "bot/delivery/terminal.py",
    "bot/delivery/discord_threads.py",
    "bot/delivery/thread_title.py",
    "bot/features/digest/compose.py",
    "bot/features/follow/dm.py",
    "bot/features/posts/compose.py",
    "bot/features/posts/format.py",
    "bot/features/posts/identity.py",
    "bot/features/posts/language.py",
    "bot/features/posts/mention.py",
    "bot/features/posts/notices.py",
    "bot/features/posts/related_line.py",
    "bot/features/posts/render.py",
    "bot/features/posts/views.py",
    "bot/i18n/dates.py",
)
CONSOLE_COMMAND_NAMES = frozenset(
    f"{group} {word}"
    for group, words in {
        "feed": "add list status remove mode filter mention threads identity merge test format "
        "preview import export",
        "digest": "schedule off preview",
        "language": "channel",
    }.items()
    for word in words.split()
)
# Literals in CONVERTED files that read as English but are not said to anyone: (path, literal).
NOT_USER_FACING: dict[tuple[str, str], str] = {
    **{("bot/console/commands.py", name): "a command's name" for name in CONSOLE_COMMAND_NAMES},
    ("bot/console/commands.py", "an id, URL or part of the title"): "argparse help, never shown",
    ("bot/console/commands.py", "instant|digest"): "a usage metavar: the words typed",
    ("bot/console/commands.py", "daily|weekly"): "a usage metavar: the words typed",
    ("bot/console/commands.py", "HH:MM"): "a usage metavar",
    ("bot/console/commands.py", "`feed add URL`"): "a command, typed as is",
    ("bot/console/repl.py", "feed add https://www.interconnects.ai"): "a command, typed as is",
    ("bot/console/repl.py", "digestbot> "): "the prompt: the program's name",
    ("bot/console/commands.py", "#console"): "the console channel's name",
    ("bot/console/commands.py", r"^-(?!-|\d+$|\d*\.\d+$)"): "a regular expression",
    ("bot/console/commands.py", "digestbot feeds"): "the exported OPML's own title",
    ("bot/features/posts/format.py", r"^\s*([a-z]+)\s*(?::\s*(\d{1,4})\s*)?$"): "a regex",
    ("bot/features/follow/dm.py", "topic:stop:(?P<topic_id>[0-9]{1,19})"): "a custom id",
    ("bot/i18n/dates.py", " UTC"): "a time zone's name",
    ("bot/delivery/terminal.py", TERMINAL_MARKDOWN.pattern): "a regular expression",
}


@pytest.mark.parametrize("path", CONVERTED)
def test_no_english_outside_the_catalogue(path: str) -> None:
    found = [
        f"{path}:{line}: {text!r}"
        for line, text in english_literals(ROOT / path)
        if (path, text) not in NOT_USER_FACING
    ]
    assert found == []


async def _store(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "t.db")


async def test_a_channel_setting_beats_the_guild_and_the_guild_beats_the_default(
    tmp_path: Path,
) -> None:
    store = await _store(tmp_path)
    guilds = {1: "ja", 2: "en-US", 3: "fr"}

    async def guild_locale(guild_id: int) -> str | None:
        return guilds.get(guild_id)

    try:
        languages = Languages(store, guild_locale=guild_locale, default="en")
        assert await languages.for_channel(10, 1) == "ja"
        assert await languages.for_channel(20, 2) == "en"
        assert await languages.for_channel(30, 3) == "en"  # a language we lack: the default
        assert await languages.for_channel(40, None) == "en"
        assert await Languages(store, default="ja").for_channel(40, None) == "ja"
        assert await languages.set_channel(1, 10, " EN ") == "en"
        assert await languages.for_channel(10, 1) == "en"
        assert await languages.channel_setting(10) == "en"
        assert await languages.set_channel(1, 10, "auto") == "auto"
        assert await languages.for_channel(10, 1) == "ja"
        with pytest.raises(ValueError):
            await languages.set_channel(1, 10, "fr")
        # A member: the language of their last /follow, else their guild's.
        assert await languages.for_member(7, 1) == "ja"
        await store.locales.set_member(7, "en", 1.0)
        assert await languages.for_member(7, 1) == "en"
    finally:
        await store.close()


def test_notices_are_written_in_the_readers_language_and_keep_feed_text_safe() -> None:
    failing = failing_payload("@everyone *Pod*", polls=10, since=1700000000, error="HTTP 500.")
    with use_locale("ja"):
        ja = render_notice(failing)
        back = render_notice(recovered_payload("Pod"))
        paused = render_notice(paused_payload(5, "Missing Access", ["A", "B"], more=3))
    en = render_notice(failing)
    assert ja is not None and back is not None and paused is not None and en is not None
    assert ja.content is not None and en.content is not None
    assert ja.content.startswith("⚠️ フィード **@\u200beveryone \\*Pod\\*** の取得が10回続けて")
    assert "<t:1700000000:R>" in ja.content and "HTTP 500." in ja.content
    assert en.content.startswith("⚠️ The feed **@\u200beveryone \\*Pod\\*** has failed 10 polls")
    assert back.content == "✅ フィード **Pod** は再び正常に動いています。"
    assert paused.content is not None
    assert paused.content.startswith("<#5> に投稿できませんでした: Missing Access。")
    assert "**A**、**B**、ほか3件" in paused.content
    assert render_notice({"text": "an old notice"}) is None


def test_a_feed_error_quoting_its_server_is_made_safe_in_the_notice() -> None:
    """The error quotes what the feed's server said (a reason phrase, a parse detail): hostile
    text, so no live mention, no markdown link and no runaway length reach the channel."""
    error = "HTTP 503 @everyone [click me](https://evil.example/) " + "x" * 2000
    message = render_notice(failing_payload("Pod", polls=3, since=1700000000, error=error))
    assert message is not None and message.content is not None
    assert "@everyone" not in message.content and "@\u200beveryone" in message.content
    assert "[click me](" not in message.content
    assert "x" * 400 not in message.content
    assert message.content.endswith("you'll get a notice when it recovers.")


def test_command_names_in_chrome_are_the_readers() -> None:
    assert slash("latest") == "`/latest`"
    with use_locale("ja"):
        assert slash("latest") == "`/新着`"


def test_a_post_without_a_title_names_its_thread_in_the_posts_language() -> None:
    """The composer renders in the channel's language; the sender opens the thread later,
    outside it, so the fallback name is set while composing."""
    bare = Message(files=(Attachment("a.txt", b"a"),))
    with use_locale("ja"):
        composed = with_thread_title(bare)
    assert thread_name(composed) == "新しい投稿"
    assert thread_name(with_thread_title(bare)) == "New post"
    titled = Message(embeds=(Embed(title="Episode 4"),))
    with use_locale("ja"):
        assert thread_name(with_thread_title(titled)) == "Episode 4"


def test_the_cli_archive_lines_speak_the_locale() -> None:
    with use_locale("ja"):
        empty = render_archive([]).content
        more = render_more_items(3, "digestbot preview --limit 13").content
    assert empty == "まだフィードがありません。digestbot feeds add URL で追加できます。"
    assert more == "… ほか3件：digestbot preview --limit 13"
    assert render_more_items(1, "x").content == "… 1 more item: x"
