"""The catalogues: complete, faithful to placeholders, current with the source; the API that
renders in the context's language; no English of ours outside the catalogue in the files that
have been converted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import (
    LOCALES_DIR,
    N_,
    _,
    aside,
    available_locales,
    ngettext,
    pick_locale,
    po_path,
    sentences,
    use_locale,
)
from tests.i18n import ROOT, catalogue_problems, english_literals

TEMPLATE = LOCALES_DIR / "digestbot.pot"

# Files whose every user-facing word goes through the catalogue. Add a file when it is
# converted; the scan then keeps it converted.
CONVERTED = (
    "bot/discord_locale.py",
    "bot/app.py",
    "bot/__main__.py",
    "cogs/digest.py",
    "cogs/feeds.py",
    "cogs/follow.py",
    "cogs/language.py",
    "cogs/related.py",
    "cogs/why.py",
    "bot/features/digest/schedule.py",
    "bot/features/feeds/filters.py",
    "bot/features/feeds/mention.py",
    "bot/features/feeds/opml.py",
    "bot/features/feeds/post_format.py",
    "bot/features/feeds/rhythm.py",
    "bot/features/feeds/subscription_filter.py",
    "bot/features/feeds/testpost.py",
    "bot/features/feeds/threads.py",
    "bot/features/feeds/webhook_identity.py",
    "bot/features/feeds/render.py",
    "bot/features/feeds/subscriptions.py",
    "bot/features/feeds/service.py",
    "bot/features/follow/render.py",
    "bot/features/follow/service.py",
    "bot/features/digest/render.py",
    "bot/features/related/render.py",
    "bot/features/why/render.py",
    "cogs/_common.py",
    "cogs/search.py",
    "bot/features/search/render.py",
    "bot/features/search/service.py",
    "bot/ops/backup.py",
    "bot/ops/cli.py",
    "bot/ops/doctor.py",
)
# Literals in CONVERTED files that read as English but are not said to anyone:
# (path, literal) -> why.
DEFAULT_LABEL = "a component's class-level default, relabeled with _() when the view is made"
OPERATOR = "the operator's terminal, not a member's answer (DIGESTBOT_LOCALE's side)"
INTERNAL = "an internal error (a bug), never shown to a member"
RE2_MESSAGE = "matched against RE2's own (English) error text"
OPML_DOCUMENT = "part of the OPML document the export writes"
NOT_USER_FACING: dict[tuple[str, str], str] = {
    ("bot/app.py", "digestbot: configuration error: DISCORD_TOKEN was refused by Discord"): (
        OPERATOR
    ),
    ("bot/app.py", "digestbot: configuration error: Discord refused the intents"): OPERATOR,
    ("bot/app.py", "digestbot: configuration error: "): OPERATOR,
    (
        "bot/app.py",
        "DIGESTBOT_SHARDS: Discord refused the shard (4010 Invalid shard); check the count",
    ): OPERATOR,
    (
        "bot/app.py",
        "DIGESTBOT_SHARDS: Discord requires more shards for this many servers "
        "(4011 Sharding required); use auto or a larger count",
    ): OPERATOR,
    ("bot/app.py", "Synced "): OPERATOR,
    ("bot/app.py", " command(s)."): OPERATOR,
    ("cogs/feeds.py", " — digestbot"): OPML_DOCUMENT,
    ("bot/__main__.py", "digestbot feeds"): OPML_DOCUMENT,
    ("bot/__main__.py", "digestbot preview"): "a command as typed, not prose",
    ("bot/__main__.py", " --limit "): "a command as typed, not prose",
    ("bot/__main__.py", "--summarizer llm"): "a command as typed, not prose",
    ("bot/__main__.py", "DIGESTBOT_LLM_BASE_URL, DIGESTBOT_LLM_MODEL"): "settings' names",
    ("bot/__main__.py", "digestbot "): "the program's name before its version",
    ("bot/__main__.py", "digestbot: "): "the program's name before a message it prefixes",
    ("bot/__main__.py", "digestbot: configuration error: "): (
        "a configuration that failed to load: DIGESTBOT_LOCALE is not known yet"
    ),
    ("bot/features/feeds/render.py", "`/feed add url:…`"): "a command as typed, not prose",
    ("bot/features/feeds/render.py", "digestbot feeds add URL"): "a command as typed, not prose",
    ("bot/features/feeds/opml.py", "digestbot feeds"): OPML_DOCUMENT,
    ("bot/features/feeds/opml.py", "dateCreated"): OPML_DOCUMENT,
    ("bot/features/feeds/opml.py", "xmlUrl"): OPML_DOCUMENT,
    ("bot/features/feeds/subscriptions.py", "backfill must be between 0 and "): (
        "a caller's bug: the cog and the console check the range first"
    ),
    ("bot/features/digest/schedule.py", "now must be an aware datetime"): INTERNAL,
    ("bot/features/digest/schedule.py", " is not a known time zone"): (
        "a stored schedule's zone, checked by canonical_timezone before it is stored"
    ),
    ("bot/features/feeds/filters.py", "invalid escape sequence: \\"): RE2_MESSAGE,
    ("bot/features/feeds/filters.py", "invalid perl operator: (?="): RE2_MESSAGE,
    ("bot/features/feeds/filters.py", "invalid perl operator: (?!"): RE2_MESSAGE,
    ("bot/features/feeds/filters.py", "invalid perl operator: (?<="): RE2_MESSAGE,
    ("bot/features/feeds/filters.py", "invalid perl operator: (?<!"): RE2_MESSAGE,
    ("bot/features/feeds/filters.py", "pattern too large"): RE2_MESSAGE,
    ("bot/ops/backup.py", "digestbot: "): "the program's name before a message it prefixes",
    ("bot/ops/backup.py", "%Y%m%d-%H%M%S"): "a backup file's name: a timestamp format",
    ("bot/ops/doctor.py", "bot "): "the prefix a pasted token must not have (a protocol string)",
    ("bot/ops/doctor.py", "Read Message History"): (
        "compared with the English name of a missing permission; shown with _()"
    ),
    ("cogs/search.py", "Previous"): DEFAULT_LABEL,
    ("cogs/search.py", "Next"): DEFAULT_LABEL,
    ("cogs/search.py", "Related"): DEFAULT_LABEL,
    ("cogs/search.py", "Related: pick a result…"): DEFAULT_LABEL,
    ("cogs/search.py", "Post to channel: pick a result to share…"): DEFAULT_LABEL,
}


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def test_languages_are_english_and_japanese() -> None:
    assert available_locales() == {"en", "ja"}


@pytest.mark.parametrize("locale", sorted(available_locales() - {"en"}))
def test_every_message_is_translated_with_its_placeholders(locale: str) -> None:
    assert catalogue_problems(_read(TEMPLATE), _read(po_path(locale))) == []


def test_the_check_catches_a_missing_translation_and_a_lost_placeholder() -> None:
    template = Catalog()
    template.add("Posted in {channel}")
    template.add(("{count} more item", "{count} more items"))
    template.add("Hello")
    po = Catalog(locale="ja")
    po.add("Posted in {channel}", "投稿しました")  # drops {channel}
    po.add(("{count} more item", "{count} more items"), ("ほか{count}件",))
    problems = catalogue_problems(template, po)
    assert problems == [
        "ja: 'Posted in {channel}' drops ['channel']",
        "ja: no translation for 'Hello'",
    ]
    extra = Catalog(locale="ja")
    extra.add("Posted in {channel}", "{channel}の{where}に投稿しました")
    assert catalogue_problems(template, extra)[0] == "ja: 'Posted in {channel}' adds ['where']"


def test_template_holds_every_message_of_the_source() -> None:
    """Run `pybabel extract` in process (babel.cfg): a message added in code but not to the
    template (and so never translated) fails here; see bot/locales/README.md."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = {
        (msgid if isinstance(msgid, str) else msgid[0], context)
        for _file, _line, msgid, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, comment_tags=("TRANSLATORS:",)
        )
    }
    in_template = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in _read(TEMPLATE)}
    assert sorted(extracted - in_template, key=str) == []
    assert sorted(in_template - extracted - {("", None)}, key=str) == []


def test_render_in_the_context_language_with_named_placeholders() -> None:
    assert _("feed {number}", number=3) == "feed 3"
    with use_locale("ja"):
        assert _("feed {number}", number=3) == "フィード 3"
        assert _(N_("Friday")) == "金曜日"
    assert ngettext("{count} result", "{count} results", 1) == "1 result"
    assert ngettext("{count} result", "{count} results", 2) == "2 results"


async def test_each_task_keeps_its_own_language() -> None:
    async def answer(locale: str, started: asyncio.Event, other: asyncio.Event) -> str:
        with use_locale(locale):
            started.set()
            await other.wait()
            return _("Friday")

    a, b = asyncio.Event(), asyncio.Event()
    ja, en = await asyncio.gather(answer("ja", a, b), answer("en-US", b, a))
    assert (ja, en) == ("金曜日", "Friday")


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (("ja", "en-US"), "ja"),
        (("en-US", "ja"), "en"),
        (("fr", "ja"), "ja"),  # a language we lack falls back to the guild's
        (("fr", None), "en"),
        ((None, None), "en"),
        (("ja_JP",), "ja"),
    ],
)
def test_locale_resolution(tags: tuple[str | None, ...], expected: str) -> None:
    assert pick_locale(*tags) == expected


@pytest.mark.parametrize("path", CONVERTED)
def test_no_english_outside_the_catalogue(path: str) -> None:
    found = [
        f"{path}:{line}: {text!r}"
        for line, text in english_literals(ROOT / path)
        if (path, text) not in NOT_USER_FACING
    ]
    assert found == []


def test_the_scan_sees_english_and_passes_translated_text(tmp_path: Path) -> None:
    source = tmp_path / "render.py"
    source.write_text(
        '"""Docstring."""\n'
        'log.info("Polling %s", url)\n'
        'a = _("Translated {n}", n=1)\n'
        'b = "Not translated"\n'
        'c = f"{a} more items"\n'
        'd = _(f"{a} items")\n'
        'e = "feed:" + "**{title}**"\n'
        'f = _("{a}", a=shown(_("lost by pybabel")), b=_("kept"))\n'
    )
    assert list(english_literals(source)) == [
        (6, "f-string given to _()"),
        (8, "translating call nested in a call inside _()"),
        (4, "Not translated"),
        (5, " more items"),
    ]


def test_sentences_are_spaced_as_their_language_spaces_them() -> None:
    assert sentences("Stopped.", "Follow it again.") == "Stopped. Follow it again."
    assert (
        sentences("やめました。", "またフォローできます。") == "やめました。またフォローできます。"
    )
    assert sentences("posted", "（[移動](u)）") == "posted（[移動](u)）"
    assert sentences("posted", "", "([jump](u))") == "posted ([jump](u))"
    assert (aside("([jump](u))"), aside("（[移動](u)）"), aside("")) == (
        " ([jump](u))",
        "（[移動](u)）",
        "",
    )
