"""The commands typed at the console prompt: the slash commands' services and rendered answers,
printed as text. The terminal is the console's one channel and the operator its one member
(CONSOLE_USER_ID) in its one guild: an item matching their topics prints there (their "DM").
`feed import`/`feed export` take files on this machine where Discord takes attachments.

`command(name, N_(help), *arguments)` registers a command (its help is translated when shown);
its arguments are an argparse spec (`Arg("url")`, `Arg("words", nargs="*")`…), parsed alike for
every command: long options only (`--feed X`, `--feed=X`) anywhere on the line, every other
word kept in order, so `-word` (a query's exclusion) is a word. The handler gets the
`argparse.Namespace`, a list of words as one string (`query_text`).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bot.delivery.terminal import to_text
from bot.features.digest import render as digest_render
from bot.features.feeds import render as feeds_render
from bot.features.feeds.mention import render_mention
from bot.features.feeds.opml import MAX_OPML_BYTES, OpmlError
from bot.features.feeds.post_format import render_format, render_no_preview
from bot.features.feeds.subscriptions import MAX_BACKFILL
from bot.features.feeds.testpost import render_test_post
from bot.features.follow import render as follow_render
from bot.features.posts.language import (
    language_choices,
    render_channel_language,
    render_language_refused,
)
from bot.features.related.render import render_related
from bot.features.search.render import render_latest, render_search
from bot.features.search.service import LATEST_DEFAULT, LATEST_MAX
from bot.features.why.render import render_why
from bot.i18n import N_, _, ngettext
from bot.model import Message
from bot.runtime import Runtime

# Console mode is one guild with one channel (the terminal) and one member (the operator).
CONSOLE_GUILD_ID = 1
CONSOLE_CHANNEL_ID = 1
CONSOLE_USER_ID = 1
# How answers name the console's channel (on Discord: the channel's mention).
CONSOLE_CHANNEL_LABEL = "#console"  # a channel's name: never translated
CONSOLE_CHANNEL_NAME = "console"


class UsageError(Exception):
    """The command was typed wrong; the message says how to type it."""


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    runtime: Runtime
    write: Callable[[str], None]


Handler = Callable[[ConsoleContext, list[str]], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ConsoleCommand:
    usage: str
    help: str  # English, marked with N_: shown as _(help)
    handler: Handler


COMMANDS: dict[str, ConsoleCommand] = {}


class Arg:
    """One argument of a command: `argparse.ArgumentParser.add_argument(*names, **options)`."""

    def __init__(self, *names: str, **options: Any) -> None:
        self.names = names
        self.options = options


# One "-" and not a number (argparse reads negative numbers as values already).
_DASH_WORD = re.compile(r"^-(?!-|\d+$|\d*\.\d+$)")
_WORD = "\0"  # marks a word starting with one "-" while argparse reads the line


class CommandParser(argparse.ArgumentParser):
    """argparse for a console command: a mistake is a UsageError, never an exit."""

    def __init__(self, name: str, arguments: Sequence[Arg]) -> None:
        super().__init__(prog=name, add_help=False, allow_abbrev=False)
        for argument in arguments:
            self.add_argument(*argument.names, **argument.options)

    def error(self, message: str) -> Any:
        raise UsageError(message)

    def parse(self, args: Sequence[str]) -> argparse.Namespace:
        """Options anywhere; a word such as `-kernel` stays a word (options are `--long`)."""
        parsed = self.parse_intermixed_args([_WORD + a if _DASH_WORD.match(a) else a for a in args])
        for key, value in vars(parsed).items():
            if isinstance(value, str):
                setattr(parsed, key, value.removeprefix(_WORD))
            elif isinstance(value, list):  # the words of a query, a topic, a feed: one string
                setattr(parsed, key, query_text([v.removeprefix(_WORD) for v in value]))
        return parsed


Answer = Message | str  # a rendered answer (printed as terminal text), or a line of our own
ParsedHandler = Callable[[ConsoleContext, argparse.Namespace], Awaitable[Answer]]


def command(name: str, help: str, *arguments: Arg) -> Callable[[ParsedHandler], Handler]:
    """Register a console command whose arguments `arguments` describe (see the module doc).
    The decorated name is the registered handler: it takes the typed words."""
    parser = CommandParser(name, arguments)

    def register(handler: ParsedHandler) -> Handler:
        async def run(ctx: ConsoleContext, args: list[str]) -> str:
            answer = await handler(ctx, parser.parse(args))
            return answer if isinstance(answer, str) else to_text(answer)

        usage = " ".join(parser.format_usage().split()[1:])  # without "usage:"
        COMMANDS[name] = ConsoleCommand(usage, help, run)
        return run

    return register


def query_text(words: Sequence[str]) -> str:
    """Words typed for a query or topic, one string again: the shell removed the quotes of a
    phrase, so a word with spaces in it gets them back."""
    return " ".join(f'"{w}"' if any(c.isspace() for c in w) else w for w in words)


def split_line(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def resolve(words: list[str]) -> tuple[ConsoleCommand, list[str]] | None:
    """The command named by the first one or two words, and its arguments."""
    if len(words) >= 2 and f"{words[0]} {words[1]}".lower() in COMMANDS:
        return COMMANDS[f"{words[0]} {words[1]}".lower()], words[2:]
    if words and words[0].lower() in COMMANDS:
        return COMMANDS[words[0].lower()], words[1:]
    return None


def unknown_command(words: list[str]) -> str:
    """What to say about a line no command takes: for a group's word (`feed`, `digest`), the
    commands of that group."""
    group = words[0].lower()
    members = sorted(name for name in COMMANDS if name.startswith(group + " "))
    if not members:
        return _("Unknown command {command}. Type `help` for the list.", command=repr(words[0]))
    listed = _(", ").join(f"`{name}`" for name in members)
    asked = f"{words[0]} {words[1]}" if len(words) > 1 else words[0]
    return _(
        "{command} is not a command. The {group} commands are {listed}; `help` shows how.",
        command=repr(asked),
        group=group,
        listed=listed,
    )


def help_text() -> str:
    lines = [_("Commands:")]
    for _name, command in sorted(COMMANDS.items()):
        lines.append(f"  {command.usage:<44} {_(command.help)}")
    lines.append(f"  {'help':<44} {_('this list')}")
    lines.append(f"  {'quit':<44} {_('stop the bot')}")
    return "\n".join(lines)


LABELS = {CONSOLE_CHANNEL_ID: CONSOLE_CHANNEL_LABEL}
MODES = ("instant", "digest")


def check_range(option: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise UsageError(
            _("{option} must be between {low} and {high}", option=option, low=low, high=high)
        )


FEED = Arg("feed", nargs="+", metavar="FEED", help="an id, URL or part of the title")
WORDS = Arg("words", nargs="*", metavar="WORDS")


@command(
    "feed add",
    N_("follow a feed or site"),
    Arg("url", metavar="URL"),
    Arg("--mode", choices=MODES, default=None, metavar="instant|digest"),
    Arg("--backfill", type=int, default=1, metavar="N"),
)
async def feed_add(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    check_range("--backfill", args.backfill, 0, MAX_BACKFILL)
    ctx.write(to_text(feeds_render.render_fetching(args.url)))
    result = await ctx.runtime.subscriptions.subscribe(
        guild_id=CONSOLE_GUILD_ID,
        channel_id=CONSOLE_CHANNEL_ID,
        url=args.url,
        mode=args.mode,
        backfill=args.backfill,
        added_by=CONSOLE_USER_ID,
    )
    return feeds_render.render_add(result, channel=CONSOLE_CHANNEL_LABEL)


@command("feed list", N_("the feeds this console follows and their health"))
async def feed_list(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    views = await ctx.runtime.subscriptions.for_guild(CONSOLE_GUILD_ID)
    rhythms = await ctx.runtime.subscriptions.rhythms(views)
    return feeds_render.render_list(views, LABELS, how_to_add="`feed add URL`", rhythms=rhythms)


@command("feed status", N_("last poll, errors and next poll of a feed"), FEED)
async def feed_status(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    status = await ctx.runtime.subscriptions.status(CONSOLE_GUILD_ID, args.feed)
    return feeds_render.render_status(status, LABELS)


@command("feed remove", N_("stop following a feed"), FEED)
async def feed_remove(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    removal = await ctx.runtime.subscriptions.remove(
        CONSOLE_GUILD_ID, args.feed, CONSOLE_CHANNEL_ID
    )
    return feeds_render.render_remove(removal, channel=CONSOLE_CHANNEL_LABEL)


@command(
    "feed mode",
    N_("switch a feed between instant posts and the digest"),
    Arg("mode", choices=MODES, metavar="instant|digest"),
    FEED,
)
async def feed_mode(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    change = await ctx.runtime.subscriptions.set_mode(
        CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, args.feed, args.mode
    )
    return feeds_render.render_mode(args.mode, change.posted, channel=CONSOLE_CHANNEL_LABEL)


@command(
    "feed filter",
    N_("choose which items of a feed are posted (no option: show the filter)"),
    FEED,
    Arg("--include", metavar="QUERY"),
    Arg("--exclude", metavar="QUERY"),
    Arg("--pattern", metavar="RE2"),
    Arg("--clear", action="store_true"),
)
async def feed_filter(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    change = await ctx.runtime.subscriptions.set_filter(
        CONSOLE_GUILD_ID,
        args.feed,
        CONSOLE_CHANNEL_ID,
        include=args.include,
        exclude=args.exclude,
        pattern=args.pattern,
        clear=args.clear,
    )
    return feeds_render.render_filter(change, LABELS)


@command(
    "feed mention",
    N_("ping a role with a feed's posts (--when: only the posts matching those words)"),
    FEED,
    Arg("--role", type=int, default=None, metavar="ROLE_ID"),
    Arg("--when", default=None, metavar="WORDS"),
)
async def feed_mention(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    rule = await ctx.runtime.subscriptions.set_mention(
        CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, args.feed, args.role, args.when
    )
    return render_mention(rule, channel=CONSOLE_CHANNEL_LABEL)


# What only Discord can do: the console says so plainly instead of "not a command".
DISCORD_ONLY = {
    "feed threads": N_("A thread per post is a Discord feature: use `/feed threads` in a server."),
    "feed identity": N_(
        "Posting under the feed's own name and avatar needs a Discord webhook: use "
        "`/feed identity` in a server."
    ),
    "feed merge": N_(
        "Merging a story edits its earlier post on Discord: use `/feed merge` in a "
        "server. Here, every item prints."
    ),
}


async def _discord_only(answer: str, ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    return _(answer)


for _name, _answer in DISCORD_ONLY.items():
    command(_name, N_("on Discord only (says where to do it)"), WORDS)(
        partial(_discord_only, _answer)
    )


@command("feed test", N_("print a feed's newest item now, exactly as a real post"), FEED)
async def feed_test(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    post = await ctx.runtime.subscriptions.test_post(
        CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, args.feed, request=str(time.time_ns())
    )
    return render_test_post(post, channel=CONSOLE_CHANNEL_LABEL)


@command(
    "feed format",
    N_("how a feed's posts look: --style card|compact|text, --template TEXT, --reset"),
    FEED,
    Arg("--style", choices=("card", "compact", "text"), default=None, metavar="STYLE"),
    Arg("--template", default=None, metavar="TEXT"),
    Arg("--reset", action="store_true"),
)
async def feed_format(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    change = await ctx.runtime.subscriptions.set_format(
        CONSOLE_GUILD_ID,
        args.feed,
        CONSOLE_CHANNEL_ID,
        style=args.style,
        template=args.template,
        reset=args.reset,
    )
    return render_format(change, channel=CONSOLE_CHANNEL_LABEL)


@command("feed preview", N_("print exactly what a feed's next post will look like"), FEED)
async def feed_preview(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    found, post = await ctx.runtime.subscriptions.preview(
        CONSOLE_GUILD_ID, args.feed, CONSOLE_CHANNEL_ID, ctx.runtime.languages.for_channel
    )
    return post if post is not None else render_no_preview(found)


@command(
    "language channel",
    N_("the language of this channel's posts, digests and notices (none: show it)"),
    Arg("language", nargs="?", default=None, metavar="|".join(language_choices())),
)
async def language_channel(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    languages = ctx.runtime.languages
    if args.language is None:
        setting = await languages.channel_setting(CONSOLE_CHANNEL_ID)
        return render_channel_language(setting, channel=CONSOLE_CHANNEL_LABEL, changed=False)
    try:
        setting = await languages.set_channel(CONSOLE_GUILD_ID, CONSOLE_CHANNEL_ID, args.language)
    except ValueError:
        return render_language_refused(args.language)
    return render_channel_language(setting, channel=CONSOLE_CHANNEL_LABEL, changed=True)


@command(
    "search",
    N_("search the archive of the followed feeds"),
    WORDS,
    Arg("--feed", metavar="X"),
    Arg("--since", metavar="7d"),
    Arg("--author", metavar="A"),
    Arg("--page", type=int, default=1, metavar="N"),
)
async def search(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    if not args.words:
        raise UsageError(_('what to search for: words, "a phrase", -leave_out, this OR that'))
    if args.page < 1:
        raise UsageError(_("{option} starts at 1", option="--page"))
    results = await ctx.runtime.search.search(
        CONSOLE_GUILD_ID,
        args.words,
        feed=args.feed,
        since=args.since,
        author=args.author,
        page_index=args.page - 1,
    )
    return render_search(results)


@command(
    "latest",
    N_("the newest items of the followed feeds"),
    Arg("--feed", metavar="X"),
    Arg("--count", type=int, default=LATEST_DEFAULT, metavar="N"),
)
async def latest(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    check_range("--count", args.count, 1, LATEST_MAX)
    rows = await ctx.runtime.search.latest(CONSOLE_GUILD_ID, feed=args.feed, count=args.count)
    return render_latest(rows)


@command("why", N_("what happened to an item, and why"), Arg("item", nargs="+", metavar="URL"))
async def why(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    answer = await ctx.runtime.why.why(CONSOLE_GUILD_ID, args.item)
    return render_why(answer, labels=LABELS)


@command("related", N_("an item and its ten closest items"), Arg("item", nargs="+", metavar="URL"))
async def related(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    answer = await ctx.runtime.related.related(CONSOLE_GUILD_ID, args.item)
    # A terminal scrolls: every page at once.
    pages = [answer.turned(step) for step in range(answer.pages)]
    return "\n\n".join(to_text(render_related(page)) for page in pages)


@command("follow", N_("print new items that match these words"), WORDS, Arg("--feed", metavar="X"))
async def follow(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    if not args.words:
        raise UsageError(_('what to follow: words, "a phrase", -leave_out, this OR that'))
    answer = await ctx.runtime.follows.follow(
        CONSOLE_GUILD_ID, CONSOLE_USER_ID, args.words, feed=args.feed
    )
    return follow_render.render_follow(answer)


@command("unfollow", N_("stop following a topic"), WORDS)
async def unfollow(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    if not args.words:
        raise UsageError(_("which topic: its words, as `following` lists them"))
    removed = await ctx.runtime.follows.unfollow(CONSOLE_GUILD_ID, CONSOLE_USER_ID, args.words)
    return follow_render.render_unfollow(removed)


@command("following", N_("the topics you follow, with match counts"))
async def following(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    topics = await ctx.runtime.follows.following(CONSOLE_GUILD_ID, CONSOLE_USER_ID)
    return follow_render.render_following(topics)


@command(
    "digest schedule",
    N_("print a digest of the digest-mode feeds on a schedule"),
    Arg("cadence", choices=("daily", "weekly"), metavar="daily|weekly"),
    Arg("time", metavar="HH:MM"),
    Arg("timezone", metavar="ZONE"),
    Arg("weekday", nargs="?", metavar="WEEKDAY"),
)
async def digest_schedule(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    try:
        scheduled = await ctx.runtime.digests.schedule(
            guild_id=CONSOLE_GUILD_ID,
            channel_id=CONSOLE_CHANNEL_ID,
            cadence=args.cadence,
            local_time=args.time,
            timezone=args.timezone,
            weekday=args.weekday,
            channel_name=CONSOLE_CHANNEL_NAME,
            created_by=CONSOLE_USER_ID,
        )
    except ValueError as exc:
        return digest_render.render_schedule_refused(str(exc))
    return digest_render.render_scheduled(scheduled, channel=CONSOLE_CHANNEL_LABEL)


@command("digest off", N_("stop the scheduled digest"))
async def digest_off(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    turned_off = await ctx.runtime.digests.off(CONSOLE_CHANNEL_ID)
    return digest_render.render_off(turned_off, channel=CONSOLE_CHANNEL_LABEL)


@command("digest preview", N_("what the digest would print now"))
async def digest_preview(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    locale = await ctx.runtime.languages.for_channel(CONSOLE_CHANNEL_ID, CONSOLE_GUILD_ID)
    preview = await ctx.runtime.digests.preview(
        CONSOLE_CHANNEL_ID, channel_name=CONSOLE_CHANNEL_NAME, locale=locale
    )
    messages = digest_render.render_preview(preview, channel=CONSOLE_CHANNEL_LABEL)
    return "\n\n".join(to_text(message) for message in messages)


PROGRESS_EVERY_S = 3.0  # a long import prints its progress this often


def read_capped(path: Path) -> bytes:
    """An OPML file's bytes, at most one over the cap (enough to know it is too large)."""
    with path.expanduser().open("rb") as handle:
        return handle.read(MAX_OPML_BYTES + 1)


@command(
    "feed import",
    N_("follow every feed of an OPML file (from another reader)"),
    Arg("file", metavar="FILE"),
    Arg("--mode", choices=MODES, default=None, metavar="instant|digest"),
)
async def feed_import(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    try:
        data = await asyncio.to_thread(read_capped, Path(args.file))
    except FileNotFoundError:
        return _("Sorry: there is no file {path}.", path=args.file)
    except OSError as exc:
        return _("Sorry: cannot read {path}: {error}.", path=args.file, error=exc.strerror or exc)
    if len(data) > MAX_OPML_BYTES:
        return feeds_render.render_import_too_large()
    clock = ctx.runtime.clock
    shown_at = clock()

    async def progress(done: int, total: int) -> None:
        nonlocal shown_at
        if clock() - shown_at >= PROGRESS_EVERY_S and done < total:
            shown_at = clock()
            ctx.write(to_text(feeds_render.render_import_progress(done, total)))

    try:
        results = await ctx.runtime.subscriptions.import_feeds(
            data,
            guild_id=CONSOLE_GUILD_ID,
            channel_id=CONSOLE_CHANNEL_ID,
            mode=args.mode,
            added_by=CONSOLE_USER_ID,
            progress=progress,
        )
    except OpmlError as exc:
        return feeds_render.render_import_refused(str(exc))
    # The console shows the report itself where Discord attaches it as a file.
    return feeds_render.render_import_report(results)


@command(
    "feed export",
    N_("write the followed feeds as an OPML file (default ./digestbot-feeds.opml)"),
    Arg("file", nargs="?", default=feeds_render.EXPORT_FILE, metavar="FILE"),
)
async def feed_export(ctx: ConsoleContext, args: argparse.Namespace) -> Answer:
    exported = await ctx.runtime.subscriptions.export(CONSOLE_GUILD_ID, "digestbot feeds")
    answer = feeds_render.render_export(exported.document, exported.count)
    if not answer.files:
        return answer
    try:
        await asyncio.to_thread(Path(args.file).write_bytes, answer.files[0].data)
    except OSError as exc:
        return _("Sorry: cannot write {path}: {error}.", path=args.file, error=exc.strerror or exc)
    return ngettext(
        "Exported {count} feed to {path}.",
        "Exported {count} feeds to {path}.",
        exported.count,
        path=args.file,
    )
