"""Our words in the reader's language: gettext catalogues managed with Babel. A leaf module.

Every sentence the bot says is a message of `bot/locales/digestbot.pot`, translated in
`bot/locales/<lang>/LC_MESSAGES/digestbot.po` (a third language is one more .po file), compiled
into memory when first used (`preload_catalogues` does it at start-up): no build step, no stale
.mo. `_("…", name=value)` / `ngettext(…)` speak the current context's language (`use_locale`, a
contextvar: each interaction and post runs in its own task, so one member's language never
leaks into another's answer). Placeholders are named and filled after translation, so a
translator can move them; module constants are marked `N_` and translated where used.
A member's answers use their locale, then the guild's, then English (`pick_locale`).
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import io
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path

DOMAIN = "digestbot"
DEFAULT_LOCALE = "en"  # the language of the msgids themselves
# The msgctxt of slash command, group and option names: a name must stay lowercase and
# without spaces in every language, so it never shares a translation with prose.
COMMAND_NAME_CONTEXT = "slash command name"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

_current: ContextVar[str] = ContextVar("digestbot_locale", default=DEFAULT_LOCALE)


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def available_locales() -> frozenset[str]:
    """English plus every language that has a catalogue file."""
    found = {path.parent.parent.name for path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset(found | {DEFAULT_LOCALE})


def supported_locale(tag: str | None) -> str | None:
    """Our locale for a language tag (Discord's `ja`, `en-US`, `zh-TW`; or `ja_JP`), or None
    when we have no catalogue for it. A regional tag falls back to its language."""
    if not tag:
        return None
    tag = tag.strip().replace("_", "-")
    have = available_locales()
    return next((c for c in (tag, tag.split("-", 1)[0].lower()) if c in have), None)


def pick_locale(*tags: str | None) -> str:
    """The first of `tags` we speak (member's, then guild's, ...), else English."""
    return next(filter(None, map(supported_locale, tags)), DEFAULT_LOCALE)


@functools.cache
def _translations(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE or locale not in available_locales():
        return gettext.NullTranslations()
    # Imported here: only a process that speaks a second language pays for Babel's import.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def preload_catalogues() -> None:
    """Compile every catalogue now (a few hundred ms with Babel's import, bench/i18n_load.py):
    the bot calls it in a thread at start-up, so no member's first answer waits for it."""
    for locale in available_locales():
        _translations(locale)


def _fill(text: str, params: dict[str, object]) -> str:
    return text.format(**params) if params else text


@dataclass(frozen=True, slots=True)
class Translator:
    """Our words in one language. Named placeholders are filled after translation."""

    locale: str

    def gettext(self, message: str, /, **params: object) -> str:
        return _fill(_translations(self.locale).gettext(message), params)

    def ngettext(self, singular: str, plural: str, count: int, /, **params: object) -> str:
        """`{count}` is always available to both forms."""
        text = _translations(self.locale).ngettext(singular, plural, count)
        return _fill(text, {"count": count, **params})

    def pgettext(self, context: str, message: str, /, **params: object) -> str:
        return _fill(_translations(self.locale).pgettext(context, message), params)

    def has(self, message: str, context: str | None = None) -> bool:
        """Whether the catalogue translates `message` (English has every message)."""
        if self.locale == DEFAULT_LOCALE:
            return True
        catalog: dict[object, str] = getattr(_translations(self.locale), "_catalog", {})
        return (message if context is None else f"{context}\x04{message}") in catalog


def translator(locale: str | None = None) -> Translator:
    """The translator for `locale`, or for the current context's language."""
    if locale is None:
        return Translator(_current.get())
    return Translator(supported_locale(locale) or DEFAULT_LOCALE)


def current_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> Token[str]:
    """Make `locale` the language of this task from here on (e.g. for one interaction)."""
    return _current.set(supported_locale(locale) or DEFAULT_LOCALE)


@contextlib.contextmanager
def use_locale(locale: str | None) -> Iterator[Translator]:
    """Render in `locale` inside the block."""
    token = set_locale(locale or DEFAULT_LOCALE)
    try:
        yield Translator(_current.get())
    finally:
        _current.reset(token)


def _(message: str, /, **params: object) -> str:
    """`message` in the current language, placeholders filled: `_("Hi {name}", name=n)`."""
    return translator().gettext(message, **params)


def ngettext(singular: str, plural: str, count: int, /, **params: object) -> str:
    """The singular or plural form for `count`, in the current language; `{count}` is set."""
    return translator().ngettext(singular, plural, count, **params)


def pgettext(context: str, message: str, /, **params: object) -> str:
    """`message` under a disambiguating context (e.g. a slash command name)."""
    return translator().pgettext(context, message, **params)


# A sentence ending in one of these needs no space before the next (Japanese, Chinese).
_FULL_WIDTH_ENDS = tuple("。！？」』）")


def sentences(*parts: str) -> str:
    """Sentences (or parenthetical asides) one after another: a space between them, except
    after a full-width stop, where a language like Japanese puts none."""
    text = ""
    for part in parts:
        if not part:
            continue
        if text and not text.endswith(_FULL_WIDTH_ENDS) and not part.startswith("（"):
            text += " "
        text += part
    return text


def aside(text: str) -> str:
    """A parenthetical to put right after a word: with a leading space, unless it is empty or
    opens with a full-width parenthesis (which needs none)."""
    return sentences("-", text)[1:]


def N_(message: str, /) -> str:
    """Mark a module constant for the catalogue; translate it where used: `_(CONSTANT)`."""
    return message
