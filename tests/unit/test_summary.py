"""offline_summary: subtitle + opening, boilerplate skipped, within 60 words / 400 chars."""

from __future__ import annotations

from bot.text.summary import (
    ELLIPSIS,
    MAX_CHARS,
    MAX_CJK_CHARS,
    MAX_WORDS,
    offline_summary,
)

TITLE = "Open models are on a different curve"
BODY = (
    "The largest debate is economic. Users may keep paying more for the top closed models.\n\n"
    "The other side is the decay of API businesses."
)


def test_a_real_subtitle_leads_then_the_opening_follows() -> None:
    summary = offline_summary(TITLE, "Where more intelligence drives value", BODY, "en")
    assert summary.startswith("Where more intelligence drives value. The largest debate")
    assert summary.endswith("The other side is the decay of API businesses.")


def test_a_description_that_is_the_start_of_the_body_is_not_a_subtitle() -> None:
    excerpt = "The largest debate is economic. Users may keep paying more for the…"
    summary = offline_summary(TITLE, excerpt, BODY, "en")
    assert summary == BODY.replace("\n\n", " ")


def test_a_description_repeating_the_title_or_too_long_is_ignored() -> None:
    assert offline_summary(TITLE, TITLE, BODY, "en").startswith("The largest debate")
    long_description = " ".join(["word"] * 80)
    assert "word" not in offline_summary(TITLE, long_description, BODY, "en")


def test_a_boilerplate_description_is_not_a_subtitle() -> None:
    for description in ("Subscribe now", "Listen on Spotify and Apple Podcasts.", "Update: typo"):
        assert offline_summary(TITLE, description, BODY, "en").startswith("The largest debate")


def test_lead_sentences_restating_the_subtitle_are_skipped() -> None:
    subtitle = "My last week at the institute, where I worked on the open models."
    body = (
        "I am departing the institute, where I worked on the open models.\n\n"
        "This post reflects on why the work mattered."
    )
    summary = offline_summary("Farewell", subtitle, body, "en")
    assert summary == subtitle + " This post reflects on why the work mattered."


def test_boilerplate_sentences_are_skipped() -> None:
    body = "\n\n".join(
        [
            "Edit Jun. 11: the company changed its policy after this post.",
            "Note: Voice-overs for paid posts are available in your podcast app.",
            "Update: fixed a typo.",
            "Listen on Apple Podcasts, Spotify, and wherever you get your podcasts.",
            "Example News is a reader-supported publication. Consider becoming a subscriber.",
            "Subscribe now",
            "This post is public so feel free to share it.",
            "The smartest model in the world",  # a heading
            "Today the lab released its model. It is fast.",
            "Thanks for reading!",
        ]
    )
    assert offline_summary("Launch", "", body, "en") == (
        "Today the lab released its model. It is fast."
    )


def test_note_words_inside_a_real_sentence_are_kept() -> None:
    body = "Note that the benchmark moved a lot: scores doubled in a year."
    assert offline_summary("Scores", "", body, "en") == body


def test_long_text_is_cut_on_a_word_boundary_within_both_budgets() -> None:
    words = [f"w{i}ord" for i in range(200)]
    summary = offline_summary("T", "", " ".join(words) + ".", "en")
    assert summary.endswith(ELLIPSIS)
    kept = summary.removesuffix(ELLIPSIS).split()
    assert len(kept) <= MAX_WORDS
    assert kept == words[: len(kept)]  # whole words only
    assert len(summary) <= MAX_CHARS

    long_words = " ".join(["internationalization"] * 100)
    summary = offline_summary("T", "", long_words, "en")
    assert len(summary) <= MAX_CHARS
    assert summary.removesuffix(ELLIPSIS).split()[-1] == "internationalization"


def test_whole_sentences_are_preferred_over_a_tiny_tail() -> None:
    first = " ".join(["alpha"] * 55) + "."
    second = "Beta gamma delta epsilon zeta eta theta iota kappa lambda."
    summary = offline_summary("T", "", f"{first} {second}", "en")
    assert summary == first


def test_abbreviations_do_not_end_sentences() -> None:
    body = "Dr. Smith met the U.S. team in Jan. 2026 at the lab. It went well."
    assert offline_summary("T", "", body, "en") == body
    # The abbreviation is inside one sentence, so the whole prompt sentence is skipped.
    prompt = "Dr. Smith asks you to subscribe now to the newsletter. The lab shipped a model."
    assert offline_summary("T", "", prompt, "en") == "The lab shipped a model."


def test_run_together_sentences_are_split() -> None:
    body = "It is still at stake.Example is a reader-supported publication.With this, I start."
    assert offline_summary("T", "", body, "en") == "It is still at stake. With this, I start."


def test_japanese_sentences_and_character_budget() -> None:
    body = (
        "追記：一部の記述を修正しました。\n\n"
        "本日、新しいモデルが公開されました。このモデルは従来のものより大幅に高速です。"
        "価格は据え置きで、月額500円で自動更新されます。"
        "開発チームは来月さらに大きなアップデートを予定していると述べており、多くの利用者が期待を寄せています。"
        "また、オープンソース版の公開も検討中とのことです。\n\n"
        "ニュースレターの購読はこちらから。"
    )
    summary = offline_summary("新モデル公開", "", body, "ja")
    assert summary.startswith("本日、新しいモデルが公開されました。このモデルは")
    assert "追記" not in summary and "購読" not in summary
    assert len(summary) <= MAX_CJK_CHARS
    assert summary.endswith("。")

    with_subtitle = offline_summary("新モデル公開", "速くて安い、新しいモデルの全貌", body, "ja")
    assert with_subtitle.startswith("速くて安い、新しいモデルの全貌。本日、")
    assert len(with_subtitle) <= MAX_CJK_CHARS
    assert with_subtitle.endswith(ELLIPSIS)
    assert with_subtitle.removesuffix(ELLIPSIS)[-1] not in "、，"


def test_language_hint_does_not_override_the_text() -> None:
    # Podcast feeds label English episodes "ja": the budget must still be words, not 120 chars.
    body = " ".join(["Open models keep pace with closed labs on benchmarks."] * 3)
    summary = offline_summary("T", "", body, "ja")
    assert len(summary) > MAX_CJK_CHARS


def test_empty_body_falls_back_to_the_title() -> None:
    assert offline_summary("Episode 12", "", "", "en") == "Episode 12"
    assert offline_summary("Episode 12", "", "Subscribe now\n\nThanks for reading!", None) == (
        "Episode 12"
    )
    assert offline_summary("", "", "", None) == ""
    assert offline_summary("", "", "Share", None) == "Share"
    long_title = " ".join(["title"] * 100)
    assert len(offline_summary(long_title, "", "", "en").split()) <= MAX_WORDS
