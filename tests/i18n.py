"""Catalogue checks shared by the i18n tests: what a translation must keep, and where our own
English may still appear outside the catalogue."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message

ROOT = Path(__file__).resolve().parent.parent
TRANSLATING_CALLS = frozenset({"_", "ngettext", "pgettext", "npgettext", "N_"})
LOGGING_OBJECTS = frozenset({"log", "logger", "logging"})
# Slash command declarations: their strings reach the catalogue through cogs/_catalogue.py and
# Discord through bot.discord_locale.CommandTranslator.
# cogs.feeds.feed_option is `describe` for the /feed commands (with the feed's autocomplete).
DECLARING_CALLS = frozenset({"command", "describe", "rename", "choices", "Group", "feed_option"})
# Patterns, not prose.
PATTERN_CALLS = frozenset({"compile", "match", "fullmatch", "search", "sub", "split"})
# Text with letters that is not prose: ids, keys, URL pieces, markdown around placeholders.
NOT_PROSE = re.compile(
    r"[a-z0-9_.:/\-]*|[A-Z0-9_]+|https?://\S*|[^A-Za-z]*([A-Za-z][^A-Za-z]*)?"
    r"|[A-Z][A-Za-z_]+(/[A-Za-z_+\-]+)+"  # an IANA zone name: Europe/Berlin
)


def placeholders(text: str) -> frozenset[str]:
    """The named fields of a message (`{count}`, `{channel}`); `{{` is a literal brace."""
    return frozenset(
        field.split(".", 1)[0].split("[", 1)[0]
        for _literal, field, _spec, _conv in string.Formatter().parse(text)
        if field is not None
    )


FIELD = re.compile(r"\{[^{}]*\}")


def _forms(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _translations(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def catalogue_problems(template: Catalog, translated: Catalog) -> list[str]:
    """Every template message must be translated (not fuzzy, every plural form) and keep its
    placeholders: a form may drop `{count}` (a language's "one" form), nothing else."""
    problems: list[str] = []
    for message in template:
        if not message.id:
            continue
        label = repr(_forms(message)[0])
        found = translated.get(message.id, context=message.context)
        if found is None or not any(_translations(found)):
            problems.append(f"{translated.locale}: no translation for {label}")
            continue
        if found.fuzzy:
            problems.append(f"{translated.locale}: fuzzy translation for {label}")
        sources = [placeholders(form) for form in _forms(message)]
        allowed = frozenset().union(*sources)
        required = sources[-1] - ({"count"} if len(sources) > 1 else set())
        for text in _translations(found):
            if not text:
                problems.append(f"{translated.locale}: an empty plural form for {label}")
                continue
            have = placeholders(text)
            if have - allowed:
                problems.append(f"{translated.locale}: {label} adds {sorted(have - allowed)}")
            if required - have:
                problems.append(f"{translated.locale}: {label} drops {sorted(required - have)}")
    return problems


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_translating_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _call_name(node) in TRANSLATING_CALLS


def _is_logging(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in LOGGING_OBJECTS
    )


def english_literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal in `path` that reads as English prose and is not
    the message of a translating call, a docstring, a log line or `__all__`. An f-string given
    to a translating call is reported too: its text could never be found in the catalogue."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            skip.update(id(sub) for sub in ast.walk(node.value))
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Subscript):  # a type written as a string: Interaction["Bot"]
            skip.update(id(sub) for sub in ast.walk(node.slice))
        if isinstance(node, ast.Call) and (
            _is_logging(node) or _call_name(node) in DECLARING_CALLS | PATTERN_CALLS
        ):
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            skip.update(id(sub) for arg in arguments for sub in ast.walk(arg))
        if isinstance(node, ast.Call) and _call_name(node) in TRANSLATING_CALLS:
            for arg in node.args:
                if isinstance(arg, ast.JoinedStr):
                    yield arg.lineno, f"f-string given to {_call_name(node)}()"
                skip.update(id(sub) for sub in ast.walk(arg))
            # pybabel extracts _() given straight as an argument of _(), but not one inside
            # another call there: _("{a}", a=f(_("b"))) leaves "b" out of the catalogue.
            for arg in [*node.args, *(keyword.value for keyword in node.keywords)]:
                for inner in ast.walk(arg):
                    if (
                        inner is not arg
                        and isinstance(inner, ast.Call)
                        and _call_name(inner) in TRANSLATING_CALLS
                        and not _is_translating_call(arg)
                    ):
                        yield inner.lineno, "translating call nested in a call inside _()"
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Constant):
            continue
        if not isinstance(node.value, str) or NOT_PROSE.fullmatch(FIELD.sub("", node.value)):
            continue
        yield node.lineno, node.value
