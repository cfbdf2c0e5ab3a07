"""The PostgreSQL index's text side: tokens cut as the index cuts them, snippets, tsquery text."""

from __future__ import annotations

import pytest

from bot.search.query import parse_query
from bot.store.pgsearch import _spans, document, snippet, to_tsquery
from bot.store.tokens import tokens

TEXTS = [
    "Plain English, with punctuation: it's 2024!",
    "Tülu 3 and naïve café — résumé",
    "プランは500円で自動更新します。",
    "e\u0301t\u0301e\u0301 combining marks",
    "🎉 emoji, x\u200by zero-width, l'été",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ﬁ ligature",
]


@pytest.mark.parametrize("text", TEXTS)
def test_spans_are_the_index_tokens_at_their_places(text: str) -> None:
    spans = _spans(text)
    assert [token for _, _, token in spans] == tokens(text)
    for start, end, token in spans:
        assert tokens(text[start:end]) == [token]


def test_document_quotes_lexemes_and_keeps_fields_apart() -> None:
    vector = document("It's O'Brien", "sum", "a\\b")
    assert "'o''brien'" not in vector  # the apostrophe separates, as in FTS5
    assert "'it':3A" in vector and "'sum':" in vector and "B" in vector
    title_end = 3 + len(tokens("It's O'Brien")) - 1
    summary_start = int(vector.split("'sum':")[1].split("B")[0])
    assert summary_start > title_end + 1  # no phrase spans title and summary


def test_tsquery_quotes_every_lexeme() -> None:
    query = parse_query('"open weight" OR llama -meta')
    assert query is not None
    assert to_tsquery(query) == "((('open' <-> 'weight') | ('llama'))) & !(('meta'))"


def test_snippet_marks_whole_phrases_and_cuts_with_ellipses() -> None:
    text = " ".join(f"w{n}" for n in range(60)) + " open weight models " + "tail " * 30
    cut = snippet(text, [("open", "weight")], tokens=10, open_="[", close="]", ellipsis="…")
    assert "[open weight]" in cut and cut.startswith("…") and cut.endswith("…")
    assert len(tokens(cut)) == 10
    whole = snippet("short open text", [("open",)], tokens=10, open_="[", close="]", ellipsis="…")
    assert whole == "short [open] text"
