"""enrich_entry: Entry → EnrichedItem (clean body, summary, image, content hash)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from bot.model import Entry
from bot.text.clean import CleanContent
from bot.text.enrich import enrich_entries, enrich_entry

CONTENT = (
    "<p>Note: Voice-overs are available in podcast apps.</p>"
    "<p>Gemma 4 is out. The Gemma models lead <a href='/p/bench'>benchmarks</a>.</p>"
    "<p class='button-wrapper'><a href='https://n.example/subscribe'>Subscribe now</a></p>"
    "<script>steal()</script>"
    "<img src='/img/gemma.png' width='900' height='500'>"
)


def make_entry(**changes: object) -> Entry:
    entry = Entry(
        stable_id="guid-1",
        title="Gemma 4 and open models",
        url="https://n.example/p/gemma-4",
        author="N",
        published=None,
        content_html=CONTENT,
        description_html="Hint: it's not benchmark scores.",
    )
    return replace(entry, **changes)  # type: ignore[arg-type]


def test_enrich_end_to_end() -> None:
    item = enrich_entry(make_entry(), feed_language="en", base_url=None)
    assert item.content_text == (
        "Note: Voice-overs are available in podcast apps.\n\n"
        "Gemma 4 is out. The Gemma models lead benchmarks."
    )
    assert "steal" not in item.content_text and "Subscribe" not in item.content_text
    assert item.summary == (
        "Hint: it's not benchmark scores. Gemma 4 is out. The Gemma models lead benchmarks."
    )
    assert item.image_url == "https://n.example/img/gemma.png"
    expected = hashlib.sha256(f"{item.entry.title}\n{item.content_text}".encode()).hexdigest()
    assert item.content_hash == expected


def test_feed_image_wins_and_relative_images_resolve_against_the_item_then_the_feed() -> None:
    entry = make_entry(image_url="https://cdn.example/cover.jpg")
    item = enrich_entry(entry, feed_language=None, base_url="https://other.example/")
    assert item.image_url == "https://cdn.example/cover.jpg"
    page_relative = make_entry(content_html="<img src='cover.png' width='800'><p>x</p>")
    item = enrich_entry(page_relative, feed_language=None, base_url="https://other.example/")
    assert item.image_url == "https://n.example/p/cover.png"
    no_link = enrich_entry(make_entry(url=None), feed_language=None, base_url="https://o.example/")
    assert no_link.image_url == "https://o.example/img/gemma.png"
    unsafe = enrich_entry(make_entry(image_url="javascript:x"), feed_language=None, base_url=None)
    assert unsafe.image_url == "https://n.example/img/gemma.png"


def test_description_only_entries_use_it_as_the_body() -> None:
    entry = make_entry(content_html="", description_html="<p>Episode notes. <b>Guest</b>.</p>")
    item = enrich_entry(entry, feed_language="en", base_url=None)
    assert item.content_text == "Episode notes. Guest."
    assert item.summary == "Episode notes. Guest."


def test_description_equal_to_content_is_not_a_subtitle() -> None:
    entry = make_entry(description_html=CONTENT)
    item = enrich_entry(entry, feed_language="en", base_url=None)
    assert item.summary == "Gemma 4 is out. The Gemma models lead benchmarks."


def test_hash_changes_with_the_text_and_title_but_not_with_furniture() -> None:
    base = enrich_entry(make_entry(), feed_language="en", base_url=None)
    edited = enrich_entry(
        make_entry(content_html=CONTENT.replace("is out", "is finally out")),
        feed_language="en",
        base_url=None,
    )
    retitled = enrich_entry(make_entry(title="Gemma 4"), feed_language="en", base_url=None)
    furniture = enrich_entry(
        make_entry(content_html=CONTENT + "<p>Share</p><img src='https://pixel.wp.com/g.gif'>"),
        feed_language="en",
        base_url=None,
    )
    assert edited.content_hash != base.content_hash
    assert retitled.content_hash != base.content_hash
    assert furniture.content_hash == base.content_hash


def test_empty_entry_still_gets_a_summary() -> None:
    item = enrich_entry(
        make_entry(content_html="", description_html=""), feed_language=None, base_url=None
    )
    assert item.content_text == ""
    assert item.summary == "Gemma 4 and open models"


def test_enrich_entries_keeps_order() -> None:
    entries = [make_entry(stable_id=f"g{i}", title=f"Post {i}") for i in range(3)]
    items = enrich_entries(entries, feed_language="en", base_url=None)
    assert [i.entry.stable_id for i in items] == ["g0", "g1", "g2"]
    assert len({i.content_hash for i in items}) == 3


def test_an_entry_that_defeats_the_clean_up_is_kept_as_plain_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.text.enrich as enrich_module

    real = enrich_module.clean_html

    def fragile(html_text: str, base_url: str | None) -> CleanContent:
        if "poison" in html_text:
            raise RecursionError("a pathological document")
        return real(html_text, base_url)

    monkeypatch.setattr(enrich_module, "clean_html", fragile)
    good = Entry("g", "Good", None, None, None, "<p>Fine body.</p>", "")
    bad = Entry("b", "Bad *one*", None, None, None, "<p>poison &amp; <b>text</b></p>", "")
    first, second = enrich_module.enrich_entries([good, bad], feed_language=None, base_url=None)
    assert first.content_text == "Fine body."
    assert second.content_text == "poison & text"
    assert second.summary == "Bad *one*" and second.content_hash
