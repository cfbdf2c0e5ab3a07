"""The percolator: token boundaries, fields, AND/OR/NOT, CJK, and incremental changes."""

from __future__ import annotations

from bot.model import Query
from bot.search.percolator import Percolator
from bot.search.query import parse_query


def _q(text: str) -> Query:
    query = parse_query(text)
    assert query is not None
    return query


def _perc(*texts: str) -> Percolator:
    return Percolator([(i + 1, _q(t)) for i, t in enumerate(texts)])


def test_words_match_only_whole_tokens() -> None:
    perc = _perc("ai", "open weight")
    assert perc.match(["He said so", "", "maintain the rain"]) == set()
    assert perc.match(["AI rules", "", ""]) == {1}
    assert perc.match(["weight", "", "open"]) == {2}  # words may sit in different fields


def test_phrase_needs_adjacent_tokens_in_one_field() -> None:
    perc = _perc('"open weight"')
    assert perc.match(["The open-weight era", "", ""]) == {1}
    assert perc.match(["We are open", "weight watchers", ""]) == set()
    assert perc.match(["open the weight", "", ""]) == set()


def test_or_groups_and_exclusions() -> None:
    perc = _perc("sqlite OR postgres backup", "rust -game -movie")
    assert perc.match(["Postgres backup tips", "", ""]) == {1}
    assert perc.match(["sqlite", "", "no b"]) == set()
    assert perc.match(["Rust 1.80", "", ""]) == {2}
    assert perc.match(["Rust", "", "the movie"]) == set()


def test_folding_and_japanese_inside_runs() -> None:
    perc = _perc("tülu", "自動更新")
    assert perc.match(["TULU 3 released", "", ""]) == {1}
    assert perc.match(["", "", "500円で自動更新します"]) == {2}
    assert perc.match(["", "", "自動的に更新"]) == set()


def test_a_word_both_required_and_excluded_never_matches() -> None:
    assert _perc("a -a").match(["a", "", ""]) == set()


def test_add_remove_and_replace_topics() -> None:
    perc = _perc("alpha")
    perc.add(2, _q("beta"))
    assert perc.match(["alpha beta", "", ""]) == {1, 2}
    for n in range(3, 10):
        perc.add(n, _q(f"word{n}"))
    assert perc.match(["word7 beta", "", ""]) == {2, 7}
    perc.remove(2)
    assert perc.match(["alpha beta", "", ""]) == {1}
    assert 2 not in perc and len(perc) == 8
    perc.add(1, _q("gamma"))  # replacing a topic's query
    assert perc.match(["alpha", "", ""]) == set()
    assert perc.match(["gamma", "", ""]) == {1}
    assert perc.match(["gamma word9", "", ""]) == {1, 9}


def test_shared_patterns_survive_removing_one_user() -> None:
    perc = _perc('"open weight"', '"open weight" models', "open -weight")
    perc.remove(1)
    assert perc.match(["open weight models", "", ""]) == {2}
    perc.remove(2)
    assert perc.match(["open weight models", "", ""]) == set()
    assert perc.match(["open", "", ""]) == {3}


def test_removed_id_reused_with_other_query_does_not_inherit_old_words() -> None:
    perc = _perc("old words")
    perc.remove(1)
    perc.add(1, _q("new"))
    assert perc.match(["old words", "", ""]) == set()
    assert perc.match(["new", "", ""]) == {1}


def test_empty_percolator() -> None:
    assert Percolator().match(["anything", "", ""]) == set()


def test_many_topics_share_patterns() -> None:
    perc = Percolator([(i, _q(f"shared w{i % 7}")) for i in range(1, 200)])
    matched = perc.match(["shared w3", "", ""])
    assert matched == {i for i in range(1, 200) if i % 7 == 3}
