"""Babel extraction for the cogs: their `_()` calls, and the slash commands they declare.

Command, group and option names and descriptions are plain strings in the decorators
(discord.py hands every one of them to bot.discord_locale.CommandTranslator), so `pybabel
extract` cannot see them as calls. This extractor imports the cog module, walks its
commands and yields each string as a catalogue message: names under the msgctxt
`COMMAND_NAME_CONTEXT` (a name must stay lowercase and without spaces in every language),
descriptions and choice names without one. Wired in babel.cfg.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from babel.messages.extract import extract_python
from discord import app_commands
from discord.ext import commands

from bot.i18n import COMMAND_NAME_CONTEXT

UNDESCRIBED = "…"  # discord.py's description of an option nobody described: not a message

# (lineno, funcname, message(s), comments), as Babel's extractors yield them (Babel's own
# annotation of extract_python's tuples differs from what it yields and reads).
Extracted = tuple[object, ...]


def _module_name(fileobj: IO[bytes]) -> str:
    path = Path(str(getattr(fileobj, "name", ""))).resolve()
    parts = path.with_suffix("").parts
    return ".".join(parts[parts.index("cogs") :])


def _line(obj: object) -> int:
    try:
        return inspect.getsourcelines(obj)[1]  # type: ignore[arg-type]
    except (OSError, TypeError):
        return 0


def _walk(
    command: app_commands.Command[Any, ..., Any] | app_commands.Group, line: int
) -> Iterator[Extracted]:
    name_note = ["A slash command or option name: lowercase, no spaces, at most 32 characters."]
    yield line, "pgettext", (COMMAND_NAME_CONTEXT, command.name), name_note
    yield line, "gettext", command.description, []
    if isinstance(command, app_commands.Group):
        for child in command.commands:
            yield from _walk(child, _line(getattr(child, "callback", None)) or line)
        return
    for param in command.parameters:
        yield line, "pgettext", (COMMAND_NAME_CONTEXT, param.display_name), name_note
        if param.description and param.description != UNDESCRIBED:
            yield line, "gettext", str(param.description), []
        for choice in param.choices:
            yield line, "gettext", choice.name, []


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Any,
) -> Iterator[Extracted]:
    """Babel extraction method `slash_commands` (see babel.cfg)."""
    yield from extract_python(fileobj, keywords, comment_tags, options)
    module = importlib.import_module(_module_name(fileobj))
    cogs = [value for value in vars(module).values() if isinstance(value, type)]
    for cog in cogs:
        if issubclass(cog, commands.Cog) and cog.__module__ == module.__name__:
            for command in cog.__cog_app_commands__:
                yield from _walk(command, _line(getattr(command, "callback", None)) or _line(cog))
