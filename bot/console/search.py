"""`search` and `latest` typed at the console prompt: the same service and the same rendered
answers as `/search` and `/latest`, printed as text (`bot.delivery.terminal.to_text`).

Options may appear anywhere; every other word is part of the query, so `-word` excludes a word
(it is not an option) and a quoted phrase keeps its quotes.
"""

from __future__ import annotations

from bot.console.registry import CONSOLE_GUILD_ID, ConsoleContext, UsageError, console_command
from bot.delivery.terminal import to_text
from bot.features.search.render import render_latest, render_search
from bot.features.search.service import LATEST_DEFAULT, LATEST_MAX, SearchService

SEARCH_USAGE = "search WORDS [--feed X] [--since 7d] [--author A] [--page N]"
LATEST_USAGE = "latest [--feed X] [--count N]"


def _options(args: list[str], names: set[str]) -> tuple[list[str], dict[str, str]]:
    """Split `--name value` / `--name=value` options (only `names`) from the other words."""
    words: list[str] = []
    found: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        name, eq, value = arg.partition("=")
        if name in names:
            if not eq:
                if index + 1 >= len(args):
                    raise UsageError(f"{name} needs a value")
                index += 1
                value = args[index]
            found[name] = value
        else:
            # shlex removed the quotes of a phrase: put them back.
            words.append(f'"{arg}"' if any(c.isspace() for c in arg) else arg)
        index += 1
    return words, found


def _service(ctx: ConsoleContext) -> SearchService:
    return ctx.runtime.search


def _number(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name} must be a whole number") from None


@console_command("search", SEARCH_USAGE, "search the archive of the followed feeds")
async def search(ctx: ConsoleContext, args: list[str]) -> str:
    words, options = _options(args, {"--feed", "--since", "--author", "--page"})
    if not words:
        raise UsageError('what to search for: words, "a phrase", -leave_out, this OR that')
    page = _number(options.get("--page", "1"), "--page")
    if page < 1:
        raise UsageError("--page starts at 1")
    results = await _service(ctx).search(
        CONSOLE_GUILD_ID,
        " ".join(words),
        feed=options.get("--feed"),
        since=options.get("--since"),
        author=options.get("--author"),
        page_index=page - 1,
    )
    return to_text(render_search(results))


@console_command("latest", LATEST_USAGE, "the newest items of the followed feeds")
async def latest(ctx: ConsoleContext, args: list[str]) -> str:
    words, options = _options(args, {"--feed", "--count"})
    if words:
        raise UsageError(f"unexpected {' '.join(words)!r}")
    count = _number(options.get("--count", str(LATEST_DEFAULT)), "--count")
    if not 1 <= count <= LATEST_MAX:
        raise UsageError(f"--count must be between 1 and {LATEST_MAX}")
    rows = await _service(ctx).latest(CONSOLE_GUILD_ID, feed=options.get("--feed"), count=count)
    return to_text(render_latest(rows))
