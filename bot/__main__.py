"""The `digestbot` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import ConfigError, Settings, load_settings
from bot.console.commands import query_text, read_capped
from bot.console.repl import ConsoleTerminal, move_log_off_screen, run_console, stdin_kind
from bot.delivery.terminal import to_text
from bot.features.feeds import opml, render
from bot.features.feeds.filters import check_filters
from bot.features.feeds.service import (
    BadFeedURLError,
    FeedService,
    enrich_document,
    fetch_feed_document,
    read_feed_file,
)
from bot.features.posts.render import render_post
from bot.features.posts.views import preview_view
from bot.features.why.render import render_why
from bot.features.why.service import WhyService
from bot.i18n import _, ngettext, set_locale
from bot.ingest.errors import (
    BlockedAddressError,
    FeedError,
    FetchError,
    UnsupportedSchemeError,
    feed_error_text,
)
from bot.ingest.fetch import FeedFetcher
from bot.ingest.pipeline import FeedPipeline, summary_input
from bot.ingest.poller import FeedPoller
from bot.model import Message
from bot.ops.cli import add_ops_commands
from bot.ops.logs import configure_logging
from bot.runtime import Runtime
from bot.safe import strip_control
from bot.store import Store, StoreError, storage_problem
from bot.text.llm import LLMSummarizer

# Exit codes (README "Exit codes"): 1 is a crash only; what the operator gave or what a feed
# did gets a sysexits.h code that says whose it is to fix.
EXIT_OK = 0
EXIT_ERROR = 1  # a crash: a bug, logged with its traceback
EXIT_USAGE = 64  # EX_USAGE: the URL given is not one the bot can fetch
EXIT_DATA = 65  # EX_DATAERR: no usable feed (or OPML) there; `why`: no such item
EXIT_NO_INPUT = 66  # EX_NOINPUT: the file given does not exist or cannot be read
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the feed's server could not be reached or refused
EXIT_FEEDS_FAILED = 75  # EX_TEMPFAIL: some feeds failed this time; the next poll retries them
EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus=78 stops restart loops

# A feed file's usual endings: `missing.xml` is a file name, not the host "missing.xml".
FEED_FILE_SUFFIXES = (".xml", ".rss", ".atom", ".rdf", ".json", ".opml")

log = logging.getLogger("bot")


def _print(text: str = "") -> None:
    """Print for the operator; feed text in it cannot send terminal escape sequences."""
    print(strip_control(text), flush=True)


def _show(message: Message) -> None:
    """Print an answer rendered for Discord, read back as terminal text."""
    print(to_text(message), flush=True)


def _fail(problem: str, exit_code: int) -> int:
    """Tell the operator, on stderr, what stopped the command; return `exit_code`."""
    print(problem, file=sys.stderr)
    return exit_code


async def cmd_preview(settings: Settings, args: argparse.Namespace) -> int:
    """Print the feed's first `--limit` items as they would be posted, and how to see the rest
    (`args.target` as the operator typed it; None for the bundled sample)."""
    if args.summarizer == "llm" and not (settings.llm_base_url and settings.llm_model):
        return _fail(
            _(
                "digestbot: configuration error: {option} needs {settings}",
                option="--summarizer llm",
                settings="DIGESTBOT_LLM_BASE_URL, DIGESTBOT_LLM_MODEL",
            ),
            EXIT_CONFIG,
        )
    # Without a target: the small newsletter the package ships, for a first look.
    target = args.target or str(resources.files("bot") / "samples" / "sample-newsletter.rss.xml")
    if "://" not in target and await asyncio.to_thread(Path(target).is_file):
        document = await asyncio.to_thread(read_feed_file, Path(target))
    elif "://" not in target and _looks_like_path(target):
        return _fail(
            _(
                "digestbot: no such file: {file} (for a web address, write it with https://)",
                file=strip_control(target),
            ),
            EXIT_NO_INPUT,
        )
    else:
        async with FeedFetcher(settings) as fetcher:
            document = await fetch_feed_document(fetcher, target)
    items = await asyncio.to_thread(enrich_document, document)
    parsed = document.parsed
    _show(render.render_document_head(parsed.title, document.url, len(items), parsed.warning))
    ai = LLMSummarizer(settings) if args.summarizer == "llm" else None
    try:
        for index, item in enumerate(items[: args.limit], start=1):
            view = preview_view(item, feed_title=parsed.title, feed_url=document.url, index=index)
            _print()
            _show(render_post(view))
            if ai is not None:
                answer = await ai.try_llm(summary_input(item))
                _print("  " + _("offline summary: {summary}", summary=item.summary))
                if answer is None:
                    reason = next(iter(ai.outcomes.most_common(1)), ("unavailable", 0))[0]
                    _print("  " + _("AI summary:      (not available: {reason})", reason=reason))
                else:
                    _print("  " + _("AI summary:      {summary}", summary=answer))
    finally:
        if ai is not None:
            await ai.aclose()
    hidden = len(items) - len(items[: args.limit])
    if hidden > 0:
        again = "digestbot preview" + (f" {shlex.quote(args.target)}" if args.target else "")
        _print()
        _show(render.render_more_items(hidden, f"{again} --limit {len(items)}"))
    return EXIT_OK


def _looks_like_path(target: str) -> bool:
    """Whether a `preview` target with no scheme was meant as a file: it starts like a path,
    its first part has no dot (no host name is `feeds/x.xml`), or it ends like a feed file."""
    if target.startswith(("/", "./", "../", "~", "\\")):
        return True
    first = target.split("/", 1)[0]
    if ":" in first:  # host:port
        return False
    return "." not in first or first.lower().endswith(FEED_FILE_SUFFIXES)


def feed_error_exit(error: FeedError) -> int:
    """The exit code for a feed the CLI could not use: whose it is to fix."""
    if isinstance(error, BadFeedURLError | UnsupportedSchemeError | BlockedAddressError):
        return EXIT_USAGE
    if isinstance(error, FetchError):
        return EXIT_UNAVAILABLE
    return EXIT_DATA


@contextlib.asynccontextmanager
async def _archive(settings: Settings) -> AsyncIterator[tuple[Store, FeedService, FeedPoller]]:
    """The archive's store and the feed service and poller over it, closed on the way out."""
    store = await Store.open(settings.database)
    try:
        async with FeedFetcher(settings) as fetcher:
            pipeline = FeedPipeline(store, fetcher, filter_gate=check_filters)
            poller = FeedPoller(store, pipeline, concurrency=settings.poll_concurrency)
            yield store, FeedService(store, fetcher, pipeline, settings), poller
    finally:
        await store.close()


async def cmd_feeds_add(settings: Settings, args: argparse.Namespace) -> int:
    async with _archive(settings) as (_store, service, _poller):
        _show(render.render_fetching(args.url))  # at once: a slow feed takes up to the time cap
        _show(render.render_archived(await service.add(args.url)))
    return EXIT_OK


async def cmd_feeds_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _archive(settings) as (store, _service, _poller):
        feeds = [(feed, await store.items.count(feed.id)) for feed in await store.feeds.all()]
    _show(render.render_archive(feeds))
    return EXIT_OK


async def cmd_poll_once(settings: Settings, args: argparse.Namespace) -> int:
    async with _archive(settings) as (store, _, poller):
        outcomes = await poller.poll_due(all_feeds=True)
        for outcome in outcomes:
            feed = await store.feeds.get(outcome.feed_id)
            title = feed.display_title if feed else outcome.feed_url
            new = await store.items.many(outcome.new_item_ids)
            _show(render.render_poll_outcome(title, outcome, [row.title for row in new]))
    if not outcomes:
        _show(render.render_nothing_to_poll())
    return EXIT_FEEDS_FAILED if any(o.error is not None for o in outcomes) else EXIT_OK


async def cmd_opml_export(settings: Settings, args: argparse.Namespace) -> int:
    async with _archive(settings) as (store, _service, _poller):
        feeds = await store.feeds.all()
    document = opml.export_opml(
        [opml.OpmlFeed(f.display_title, f.url, f.site_url) for f in feeds], "digestbot feeds"
    )
    if args.file is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        await asyncio.to_thread(args.file.write_bytes, document)
        exported = ngettext(
            "Exported {count} feed to {path}.",
            "Exported {count} feeds to {path}.",
            len(feeds),
            path=args.file,
        )
        print(exported, file=sys.stderr, flush=True)
    return EXIT_OK


async def cmd_opml_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        feeds = opml.parse_opml(await asyncio.to_thread(read_capped, args.file))
    except OSError as exc:
        problem = _("cannot read {path}: {error}", path=args.file, error=exc.strerror or exc)
        return _fail(f"digestbot: {problem}", EXIT_NO_INPUT)
    except opml.OpmlError as exc:
        return _fail(f"digestbot: {exc}", EXIT_DATA)

    async def progress(done: int, total: int) -> None:
        shown = ngettext("{done}/{count} feed", "{done}/{count} feeds", total, done=done)
        print(f"\r{shown}", end="", file=sys.stderr, flush=True)

    async with _archive(settings) as (_store, service, _poller):
        results = await opml.import_opml(feeds, service.add, progress=progress)
        print(file=sys.stderr)
    print(to_text(render.render_import_report(results)), flush=True)
    return EXIT_FEEDS_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    kind = stdin_kind()
    if not settings.discord_token and kind == "none":
        # A container started with an empty DISCORD_TOKEN: console mode has no one to talk to.
        return _fail(
            _(
                "digestbot: configuration error: DISCORD_TOKEN is not set and there is no "
                "terminal for console mode: set DISCORD_TOKEN to run on Discord, run in a "
                "terminal (docker run -it), or pipe commands in (digestbot run < commands.txt)"
            ),
            EXIT_CONFIG,
        )
    if settings.discord_token:
        from bot.app import run_discord

        return await run_discord(await Runtime.open(settings), settings.discord_token)
    terminal = ConsoleTerminal(kind)
    log_file = move_log_off_screen(settings, terminal)  # before opening logs anything
    runtime = await Runtime.open(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runtime.stop.set)
    try:
        await run_console(runtime, terminal, log_file=log_file)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runtime.close()
    return EXIT_OK


async def cmd_sync_commands(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.discord_token:
        return _fail(_("digestbot: configuration error: DISCORD_TOKEN is not set"), EXIT_CONFIG)
    from bot.app import sync_commands

    return await sync_commands(await Runtime.open(settings), settings.discord_token, args.guild)


async def cmd_why(settings: Settings, args: argparse.Namespace) -> int:
    """What happened to an item in every channel of every server (the operator sees all)."""
    async with _archive(settings) as (store, _service, _poller):
        answer = await WhyService(store).why(None, query_text(args.item))
    labels = {
        line.channel_id: _(
            "channel {channel} (server {server})", channel=line.channel_id, server=line.guild_id
        )
        for line in answer.channels
    }
    _show(render_why(answer, labels=labels, everywhere=True))
    return EXIT_OK if answer.item is not None else EXIT_DATA


def build_parser() -> argparse.ArgumentParser:
    """The commands; each leaf's `run` default is the coroutine that carries it out."""
    parser = argparse.ArgumentParser(
        prog="digestbot",
        description=_("Newsletter feeds turned into Discord posts, digests, search and topic DMs."),
    )
    parser.add_argument("--version", action="version", version=f"digestbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    preview = commands.add_parser("preview", help=_("show a feed's items as they would be posted"))
    preview.set_defaults(run=cmd_preview)
    preview.add_argument(
        "target", nargs="?", help=_("feed URL, site URL or file (default: the bundled sample)")
    )
    preview.add_argument("--limit", type=int, default=10, help=_("items to show (default 10)"))
    preview.add_argument(
        "--summarizer",
        choices=("offline", "llm"),
        default="offline",
        help=_("llm: also show the AI summary next to the offline one"),
    )

    feeds = commands.add_parser("feeds", help=_("manage the archive's feeds without Discord"))
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    add = feed_commands.add_parser("add", help=_("add a feed (or a site whose feed is discovered)"))
    add.set_defaults(run=cmd_feeds_add)
    add.add_argument("url")
    feed_commands.add_parser("list", help=_("list archived feeds")).set_defaults(run=cmd_feeds_list)

    commands.add_parser(
        "run", help=_("run the bot (on Discord with DISCORD_TOKEN, else in this terminal)")
    ).set_defaults(run=cmd_run)
    sync = commands.add_parser("sync-commands", help=_("push the slash commands to Discord now"))
    sync.set_defaults(run=cmd_sync_commands)
    sync.add_argument("--guild", type=int, help=_("sync to one server only (instant, for testing)"))

    why = commands.add_parser("why", help=_("what happened to an item in each channel, and why"))
    why.set_defaults(run=cmd_why)
    why.add_argument("item", nargs="+", help=_("the item's link, or words from it"))

    poll = commands.add_parser("poll", help=_("poll feeds and report what is new"))
    poll.set_defaults(run=cmd_poll_once)
    poll.add_argument("--once", action="store_true", required=True, help=_("poll every feed once"))
    add_ops_commands(commands)
    opml_parser = commands.add_parser(
        "opml", help=_("export or import the archive's feeds as OPML")
    )
    actions = opml_parser.add_subparsers(dest="opml_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help=_("write every archived feed as OPML"))
    export.set_defaults(run=cmd_opml_export)
    export.add_argument("file", nargs="?", type=Path, help=_("output file (default: stdout)"))
    import_ = actions.add_parser("import", help=_("add every feed of an OPML file to the archive"))
    import_.set_defaults(run=cmd_opml_import)
    import_.add_argument("file", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Settings first, so help and usage errors speak DIGESTBOT_LOCALE too; a bad configuration
    # is reported after the arguments (--help still works), in English (its language is unknown).
    try:
        settings = load_settings()
    except ConfigError as exc:
        build_parser().parse_args(argv)
        return _fail(f"digestbot: configuration error: {exc}", EXIT_CONFIG)
    set_locale(settings.locale)  # CLI output and console mode speak DIGESTBOT_LOCALE
    args = build_parser().parse_args(argv)
    run: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]] = args.run
    configure_logging(settings)
    try:
        return asyncio.run(run(settings, args))
    except FeedError as exc:
        return _fail(f"digestbot: {feed_error_text(exc.message)}", feed_error_exit(exc))
    except StoreError as exc:
        return _fail(f"digestbot: {exc}", EXIT_CONFIG)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`digestbot preview | head`): not a crash. Point stdout at
        # /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        # The database failing under a command (disk full, made read-only, damaged while
        # in use) is the operator's to fix, like a database that cannot be opened.
        problem = storage_problem(exc, settings.db_path)
        if problem is not None:
            return _fail(f"digestbot: {problem}", EXIT_CONFIG)
        log.exception("digestbot crashed")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
