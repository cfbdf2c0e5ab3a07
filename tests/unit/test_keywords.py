"""extract_keywords: frequent meaningful words, title weighted, CJK runs."""

from __future__ import annotations

from bot.text.keywords import extract_keywords


def test_frequent_words_win_and_stopwords_are_skipped() -> None:
    text = (
        "The distillation debate is about distillation of models. Labs say distillation "
        "attacks are real, and the labs that train a model worry about the models they ship."
    )
    keywords = extract_keywords("", text, limit=3)
    assert keywords == ("distillation", "model", "labs")  # no "lab" to fold into
    for stopword in ("the", "about", "and", "that", "they"):
        assert stopword not in extract_keywords("", text, limit=50)


def test_title_words_are_weighted() -> None:
    text = "benchmark " * 2 + "gemma"
    # "release" is only in the title, yet outranks "benchmark" seen twice in the body.
    assert extract_keywords("Gemma release", text, limit=3) == ("gemma", "release", "benchmark")


def test_acronyms_keep_their_case_and_short_words_are_dropped() -> None:
    keywords = extract_keywords("AI and LLMs", "An LLM for AI. An ox. Go.", limit=8)
    assert "AI" in keywords
    assert "LLM" in keywords  # "LLMs" folds into "LLM"
    assert "ox" not in keywords and "go" not in keywords


def test_plurals_fold_into_the_singular_and_possessives_are_stripped() -> None:
    keywords = extract_keywords("", "Nvidia’s chips. The chip. Nvidia's chips.", limit=2)
    assert keywords == ("chip", "nvidia")


def test_japanese_runs_of_katakana_and_kanji() -> None:
    text = "本日、新しいモデルが公開されました。このモデルは高速です。価格は据え置きです。"
    keywords = extract_keywords("モデル公開", text, limit=3)
    assert keywords[0] == "モデル"
    assert "公開" in keywords
    assert all(len(k) >= 2 for k in extract_keywords("", text, limit=20))


def test_limit_and_empty_input() -> None:
    assert extract_keywords("", "") == ()
    assert extract_keywords("alpha beta", "gamma delta epsilon", limit=0) == ()
    many = " ".join(f"word{chr(97 + i)}x" for i in range(20))
    assert len(extract_keywords("", many)) == 8
