"""The one console parser: options anywhere, `-word` stays a word, mistakes are usage errors."""

from __future__ import annotations

import argparse

import pytest

from bot.console.commands import (
    COMMANDS,
    Arg,
    CommandParser,
    ConsoleContext,
    UsageError,
    command,
)


def parser() -> CommandParser:
    return CommandParser(
        "search",
        [Arg("words", nargs="*"), Arg("--feed"), Arg("--page", type=int, default=1)],
    )


def test_options_anywhere_and_exclusions_stay_words_in_order() -> None:
    parsed = parser().parse(["rust", "--feed", "alpha", "-kernel", "borrow checker", "--page=2"])
    # The words, in order, are one query again (query_text quotes the phrase).
    assert parsed.words == 'rust -kernel "borrow checker"'
    assert (parsed.feed, parsed.page) == ("alpha", 2)


def test_an_option_value_may_start_with_a_dash() -> None:
    parsed = parser().parse(["--feed", "-x-", "rust", "--page", "-1"])
    assert (parsed.feed, parsed.page, parsed.words) == ("-x-", -1, "rust")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["rust", "--color", "red"], "unrecognized arguments: --color"),
        (["rust", "--page", "two"], "invalid int value: 'two'"),
        (["rust", "--feed"], "expected one argument"),
        (["rust", "--fe", "alpha"], "unrecognized arguments: --fe"),  # no abbreviations
    ],
)
def test_mistakes_are_usage_errors_not_exits(args: list[str], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parser().parse(args)


async def test_a_registered_command_gets_the_parsed_arguments_and_a_usage_line() -> None:
    seen: list[argparse.Namespace] = []

    @command("parsertest", "a test command", Arg("name"), Arg("--count", type=int, default=1))
    async def handler(ctx: ConsoleContext, args: argparse.Namespace) -> str:
        seen.append(args)
        return "ok"

    try:
        registered = COMMANDS["parsertest"]
        assert registered.usage == "parsertest [--count COUNT] name"
        ctx = ConsoleContext(runtime=None, write=print)  # type: ignore[arg-type]
        assert await registered.handler(ctx, ["--count=3", "x"]) == "ok"
        assert (seen[0].name, seen[0].count) == ("x", 3)
        with pytest.raises(UsageError):
            await handler(ctx, [])  # the decorated name takes the typed words too
    finally:
        del COMMANDS["parsertest"]
