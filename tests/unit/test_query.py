"""Tokens identical to FTS5's; the query syntax; safe MATCH strings for hostile input."""

from __future__ import annotations

import random
import sqlite3

import pytest

from bot.model import Query, QueryProblem
from bot.search.query import MAX_PHRASE_TOKENS, MAX_TERMS, parse_query
from bot.store.cjk import space_cjk
from bot.store.search import to_fts5
from bot.store.tokens import tokens

VARIED = [
    "Hello, World!",
    "Tülu 3 and TÜLU and tulu",
    "naïve café résumé Ångström",
    "İstanbul straße STRASSE ẞ ß",
    "Σίσυφος ΣΊΣΥΦΟΣ σίσυφος",
    "Привет МИР ёлка Ёлка",
    "500円で自動更新します。",
    "ＡＢＣ全角 ｶﾀｶﾅ half-width",
    "한국어 텍스트 검색",
    "emoji 🎉🚀 between👍words",
    "e\u0301 combining acute, a\u0308 diaeresis",
    "tabs\tand\nnewlines\r\nhere",
    "snake_case kebab-case dot.case slash/case",
    "x\x00y NUL and \x1b[31m escape",
    "numbers 3.14 1,000 ①②③ ²³ ٣٤٥",
    "fi ligature ﬁle ﬀ",
    "Arabic: السلام عليكم",
    "Hebrew: שָׁלוֹם",
    "Devanagari: नमस्ते",
    "Thai: สวัสดีครับ",
    "private use \ue000\ue001 and symbols ™ © ® °C",
    "quotes “curly” ‘single’ «guillemets» — dashes – ‐",
    "\u200bzero\u200dwidth\u2060joiners",
    "ǅ titlecase ǈ ǋ and ŉ",
    "",
]


def _fts_tokens(texts: list[str]) -> list[list[str]]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'unicode61 remove_diacritics 2')"
    )
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
    conn.executemany(
        "INSERT INTO t (rowid, x) VALUES (?, ?)",
        [(i + 1, space_cjk(text)) for i, text in enumerate(texts)],
    )
    found: dict[int, list[tuple[int, str]]] = {}
    for term, doc, offset in conn.execute("SELECT term, doc, offset FROM v"):
        found.setdefault(doc, []).append((offset, term))
    conn.close()
    return [[t for _, t in sorted(found.get(i + 1, []))] for i in range(len(texts))]


def test_tokens_match_sqlite_on_varied_text() -> None:
    expected = _fts_tokens(VARIED)
    for text, want in zip(VARIED, expected, strict=True):
        assert tokens(text) == want, text


def test_tokens_match_sqlite_on_random_mixtures() -> None:
    rng = random.Random(5)
    pool = [chr(c) for c in range(0x20, 0x2FF)] + list("自動更新カタカナひらがな한국 ‐—“”🎉\u0301")
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    assert [tokens(t) for t in texts] == _fts_tokens(texts)


def test_folding_examples() -> None:
    assert tokens("Tülu TÜLU") == ["tulu", "tulu"]
    assert tokens("自動更新") == ["自", "動", "更", "新"]
    assert tokens("said AI") == ["said", "ai"]
    assert tokens("gpt-4o") == ["gpt", "4o"]


def _q(text: str) -> Query:
    query = parse_query(text)
    assert query is not None, text
    return query


def test_words_are_all_required() -> None:
    query = _q("Open Weight models")
    assert query.groups == ((("open",),), (("weight",),), (("models",),))
    assert to_fts5(query) == '"open" AND "weight" AND "models"'


def test_quoted_phrase_and_exclusions() -> None:
    query = _q('"open weight" -llama -"meta ai"')
    assert query.groups == ((("open", "weight"),),)
    assert query.excluded == (("llama",), ("meta", "ai"))
    assert to_fts5(query) == '("open weight") NOT ("llama" OR "meta ai")'


def test_or_joins_neighbours() -> None:
    query = _q('sqlite OR "postgres 17" rust')
    assert query.groups == ((("sqlite",), ("postgres", "17")), (("rust",),))
    assert to_fts5(query) == '("sqlite" OR "postgres 17") AND "rust"'
    assert _q("a OR b OR c").groups == ((("a",), ("b",), ("c",)),)


def test_lowercase_or_is_a_word() -> None:
    assert _q("this or that").groups == ((("this",),), (("or",),), (("that",),))


def test_chunk_with_punctuation_is_a_phrase() -> None:
    assert _q("gpt-4").groups == ((("gpt", "4"),),)
    assert _q("自動更新").groups == ((("自", "動", "更", "新"),),)
    assert to_fts5(_q("自動更新")) == '"自 動 更 新"'


@pytest.mark.parametrize(
    "text", ["", '"', "*", "-", "🎉", "^", "()", '""', "   ", None, "-" * 50, '-"" "" -']
)
def test_nothing_searchable_is_none(text: str | None) -> None:
    assert parse_query(text) is None


def test_only_exclusions_is_a_clear_problem() -> None:
    query = _q("-spam -eggs")
    assert query.problem is QueryProblem.ONLY_EXCLUSIONS
    assert to_fts5(query) is QueryProblem.ONLY_EXCLUSIONS
    assert "exclude" in QueryProblem.ONLY_EXCLUSIONS.message


@pytest.mark.parametrize(
    "text",
    [
        "NEAR(a b)",
        "a OR",
        "OR a",
        "a OR OR b",
        "title:foo",
        "a* ^b",
        '"unclosed phrase',
        "a AND NOT",
        "a\x00b",
        "x" * 2000,
        "(a OR b) AND NOT c",
        "\ud800 lone surrogate",
    ],
)
def test_hostile_input_gives_a_valid_match_string(text: str) -> None:
    query = parse_query(text)
    assert query is not None
    fts = to_fts5(query)
    assert isinstance(fts, str)
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'unicode61 remove_diacritics 2')"
    )
    conn.execute("INSERT INTO t (x) VALUES ('a b near title foo x')")
    conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts,)).fetchall()  # must not raise


def test_syntax_words_become_plain_words() -> None:
    assert _q("NEAR(a").groups == ((("near", "a"),),)
    assert _q("cats and dogs not birds").groups == (
        (("cats",),),
        (("and",),),
        (("dogs",),),
        (("not",),),
        (("birds",),),
    )


def test_upper_case_and_is_implied_and_not_excludes_like_a_minus() -> None:
    query = _q('(a OR b) AND NOT c NOT "open weight" d')
    assert query.groups == ((("a",), ("b",)), (("d",),))
    assert query.excluded == (("c",), ("open", "weight"))
    assert query.key == _q('a OR b -c -"open weight" d').key
    assert parse_query("AND NOT") is None  # nothing to look for
    assert _q("a NOT").groups == ((("a",),),) and _q("a NOT").excluded == ()


def test_terms_and_phrases_are_capped() -> None:
    many = " ".join(f"w{i}" for i in range(100))
    assert len(_q(many).groups) == MAX_TERMS
    long_phrase = '"' + " ".join(f"t{i}" for i in range(100)) + '"'
    assert len(_q(long_phrase).groups[0][0]) == MAX_PHRASE_TOKENS


def test_key_is_the_same_for_the_same_meaning() -> None:
    assert _q("Weight OPEN").key == _q("open  weight").key
    assert _q("b OR a -x").key == _q("-x A OR B").key
    assert _q('"open weight"').key != _q("open weight").key
    assert _q("Tülu").key == _q("tulu").key
    assert _q("a a").groups == ((("a",),),)
