"""Text commands for console mode. A feature registers its commands with `console_command`."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.runtime import Runtime

# Console mode is one guild with one channel (the terminal) and one member (the operator).
CONSOLE_GUILD_ID = 1
CONSOLE_CHANNEL_ID = 1
CONSOLE_USER_ID = 1


class UsageError(Exception):
    """The command was typed wrong; the message says how to type it."""


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    runtime: Runtime
    write: Callable[[str], None]


Handler = Callable[[ConsoleContext, list[str]], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ConsoleCommand:
    name: str  # one or two words: "feed add", "search"
    usage: str
    help: str
    handler: Handler


COMMANDS: dict[str, ConsoleCommand] = {}


def console_command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = ConsoleCommand(name, usage, help, handler)
        return handler

    return register


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


def help_text() -> str:
    lines = ["Commands:"]
    for command in sorted(COMMANDS.values(), key=lambda c: c.name):
        lines.append(f"  {command.usage:<44} {command.help}")
    lines.append(f"  {'help':<44} this list")
    lines.append(f"  {'quit':<44} stop the bot")
    return "\n".join(lines)
