"""`search` and `latest` typed at the console prompt: the same results as `/search` and `/latest`.

Options may appear anywhere; every other word is part of the query, so `-word` excludes a word
(it is not an option) and a quoted phrase keeps its quotes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.console.registry import CONSOLE_GUILD_ID, ConsoleContext, UsageError, console_command
from bot.features.search.service import (
    LATEST_DEFAULT,
    LATEST_MAX,
    SearchResults,
    SearchService,
    empty_answer,
)
from bot.safe import one_line, safe_url, strip_control, truncate
from bot.store.items import ItemRow
from bot.store.search import SearchHit

SEARCH_USAGE = "search WORDS [--feed X] [--since 7d] [--author A] [--page N]"
LATEST_USAGE = "latest [--feed X] [--count N]"
SUMMARY_CHARS = 200
_ESCAPE = re.compile(r"\\(.)")


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


def _clean(text: str) -> str:
    return one_line(strip_control(text))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _plain_snippet(snippet: str) -> str:
    """A Discord-markdown snippet for the terminal: escapes undone, **bold** kept as marks."""
    return _ESCAPE.sub(r"\1", snippet)


def _hit_lines(number: int, hit: SearchHit) -> list[str]:
    lines = [
        f"{number:>3}. [{_clean(hit.feed_title) or 'feed'}] {_clean(hit.title) or '(untitled)'}"
    ]
    url = safe_url(hit.url)
    if url:
        lines.append(f"     {url}")
    byline = f"     {_when(hit.published_at)}"
    if hit.author and _clean(hit.author):
        byline += f" · by {_clean(hit.author)}"
    lines.append(byline)
    if hit.snippet:
        lines.append(f"     {_plain_snippet(hit.snippet)}")
    return lines


def format_results(results: SearchResults) -> str:
    """Search results as terminal text (what `/search` shows, without Discord markup)."""
    if results.page.empty:
        return empty_answer(results)
    page = results.page
    last = results.first_number + len(page.hits) - 1
    head = f"Results {results.first_number}–{last}"
    if page.total is not None:
        head += f" of {page.total}"
    head += f" for: {_clean(results.request.text)}"
    labels = results.request.filter_labels()
    if labels:
        head += " (" + ", ".join(_clean(label) for label in labels) + ")"
    lines = [head]
    if page.recent_only:
        lines.append(f"Many matches: the best of the newest {page.window:,}.")
    for index, hit in enumerate(page.hits):
        lines.extend(_hit_lines(results.first_number + index, hit))
    if results.has_next:
        lines.append(f"More: add --page {results.page_index + 2}")
    return "\n".join(lines)


def format_latest(rows: list[ItemRow]) -> str:
    """Newest items, one compact block each (what `/latest` shows)."""
    if not rows:
        return "Nothing to show yet: follow a feed with `feed add URL`."
    lines: list[str] = []
    for row in rows:
        feed = _clean(row.feed_title) or row.feed_url
        lines.append(f"[{feed}] {_clean(row.title) or '(untitled)'}")
        url = safe_url(row.url)
        if url:
            lines.append(f"  {url}")
        lines.append(f"  {_when(row.published_at)}")
        summary = truncate(_clean(row.summary), SUMMARY_CHARS)
        if summary:
            lines.append(f"  {summary}")
    return "\n".join(lines)


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
    return format_results(results)


@console_command("latest", LATEST_USAGE, "the newest items of the followed feeds")
async def latest(ctx: ConsoleContext, args: list[str]) -> str:
    words, options = _options(args, {"--feed", "--count"})
    if words:
        raise UsageError(f"unexpected {' '.join(words)!r}")
    count = _number(options.get("--count", str(LATEST_DEFAULT)), "--count")
    if not 1 <= count <= LATEST_MAX:
        raise UsageError(f"--count must be between 1 and {LATEST_MAX}")
    rows = await _service(ctx).latest(CONSOLE_GUILD_ID, feed=options.get("--feed"), count=count)
    return format_latest(rows)
