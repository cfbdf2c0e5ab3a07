"""Text commands for console mode, and the one way they parse their arguments.

A feature registers a command with `command(name, N_(help), *arguments)` (the help is
translated when shown, in the console's language): the arguments are an
argparse spec (`Arg("url")`, `Arg("--mode", choices=…)`, `Arg("words", nargs="*")`), parsed
the same way for every command — long options only (`--feed X` or `--feed=X`), anywhere on
the line, and every other word kept in order, so `-word` (a query's exclusion) is a word and
not an option. The handler gets the parsed `argparse.Namespace`.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.delivery.terminal import to_text
from bot.i18n import _
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
