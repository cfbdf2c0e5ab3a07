"""`follow`, `unfollow` and `following` typed at the console prompt.

The operator is the console's one member (CONSOLE_USER_ID) in its one guild; a new item that
matches one of their topics prints in the terminal (the console's "DM").
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.console.registry import (
    CONSOLE_GUILD_ID,
    CONSOLE_USER_ID,
    ConsoleContext,
    UsageError,
    console_command,
)
from bot.features.follow.service import follow_text, following_text, unfollow_text
from bot.safe import one_line, strip_control

FOLLOW_USAGE = "follow WORDS [--feed X]"
UNFOLLOW_USAGE = "unfollow WORDS"


def _show(text: str) -> str:
    return one_line(strip_control(text))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _plain(text: str) -> str:
    """The service's answers are Discord markdown: in the terminal, bold topics show in
    backticks and slash commands are the console's own words (`/follow` → `follow`)."""
    return text.replace("**", "`").replace("`/", "`")


def _words(args: list[str]) -> tuple[list[str], str | None]:
    """Split `--feed X` / `--feed=X` from the topic's words (quoted phrases keep quotes)."""
    words: list[str] = []
    feed: str | None = None
    index = 0
    while index < len(args):
        name, eq, value = args[index].partition("=")
        if name == "--feed":
            if not eq:
                if index + 1 >= len(args):
                    raise UsageError("--feed needs a value")
                index += 1
                value = args[index]
            feed = value
        else:
            arg = args[index]
            words.append(f'"{arg}"' if any(c.isspace() for c in arg) else arg)
        index += 1
    return words, feed


@console_command("follow", FOLLOW_USAGE, "print new items that match these words")
async def follow(ctx: ConsoleContext, args: list[str]) -> str:
    words, feed = _words(args)
    if not words:
        raise UsageError('what to follow: words, "a phrase", -leave_out, this OR that')
    answer = await ctx.runtime.follows.follow(
        CONSOLE_GUILD_ID, CONSOLE_USER_ID, " ".join(words), feed=feed
    )
    return _plain(follow_text(answer, _show))


@console_command("unfollow", UNFOLLOW_USAGE, "stop following a topic")
async def unfollow(ctx: ConsoleContext, args: list[str]) -> str:
    words, _ = _words(args)
    if not words:
        raise UsageError("which topic: its words, as `following` lists them")
    removed = await ctx.runtime.follows.unfollow(CONSOLE_GUILD_ID, CONSOLE_USER_ID, " ".join(words))
    return _plain(unfollow_text(removed, _show))


@console_command("following", "following", "the topics you follow, with match counts")
async def following(ctx: ConsoleContext, args: list[str]) -> str:
    if args:
        raise UsageError(f"unexpected {' '.join(args)!r}")
    topics = await ctx.runtime.follows.following(CONSOLE_GUILD_ID, CONSOLE_USER_ID)
    return _plain(following_text(topics, _show, _when))
