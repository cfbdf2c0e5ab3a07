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


def test_a_sentence_that_does_not_fit_ends_the_summary_uncut() -> None:
    first = " ".join(["alpha"] * 45) + "."
    second = "Beta " + " ".join(["beta"] * 24) + "."
    third = "Gamma is short."
    summary = offline_summary("T", "", f"{first} {second} {third}", "en")
    assert summary == first  # not "… beta beta…", and not the later sentence out of order


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
    assert with_subtitle == (
        "速くて安い、新しいモデルの全貌。本日、新しいモデルが公開されました。"
        "このモデルは従来のものより大幅に高速です。価格は据え置きで、月額500円で自動更新されます。"
    )  # whole sentences: the one that does not fit is left out, not cut with "…"


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


SCENE = (
    "Staring out of the window of the night train from Lyon, I watched the vineyards turn "
    "blue in the dusk. The carriage was nearly empty and smelled of coffee."
)
ARGUMENT = (
    "Small wineries are adopting soil sensors faster than the big estates, because the sensors "
    "pay for themselves in a single dry summer."
)


def test_scene_setting_gives_way_to_the_paragraph_that_states_the_argument() -> None:
    body = "\n\n".join([SCENE, "What the vintners told me", ARGUMENT, "More on that below."])
    subtitle = "What a week with winemakers taught me about farm data."
    summary = offline_summary("Notes from a harvest in Burgundy", subtitle, body, "en")
    assert summary == f"{subtitle} {ARGUMENT} More on that below."

    # An anecdote that states the argument (it shares the title's words) is kept …
    opening = (
        "Recently, I was talking with a vintner near Beaune, and it struck me that soil sensors "
        "will reach every farm within five years."
    )
    kept = offline_summary("Soil sensors will reach every farm", "", f"{opening}\n{ARGUMENT}", "en")
    assert kept.startswith(opening)
    # … and with nothing better after it, a scene is still better than no summary.
    assert offline_summary("Notes from Burgundy", "", SCENE, "en") == SCENE


def test_a_sentence_introducing_a_chart_does_not_end_the_summary() -> None:
    body = "Prices fell by half this year. The chart below shows the drop by quarter:\n\nQ1 Q2 Q3"
    assert offline_summary("Prices", "", body, "en") == "Prices fell by half this year."


def test_every_summary_ends_on_a_whole_sentence_or_the_subtitle() -> None:
    sentence = (
        "The largest debate that will define the balance between open and closed models is "
        "economic, and it turns on whether users keep paying far more, with large margins, for "
        "the very best closed models."
    )
    for subtitle in ("", "Where more intelligence pays"):
        summary = offline_summary("Exponentials", subtitle, f"{sentence} {sentence}", "en")
        assert summary == (f"{subtitle}. " if subtitle else "") + sentence  # not "… with…"
