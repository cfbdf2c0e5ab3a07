"""bot.text.excerpt's cut and bot.features.posts.format's template checks, on their own."""

from __future__ import annotations

import pytest

from bot.features.posts.format import TemplateError, check_format, parse_template
from bot.text.excerpt import cut_markdown, excerpt_markdown


def test_a_cut_never_splits_a_link_and_closes_bold() -> None:
    markdown = "**Read [the long announcement](https://lab.example/news) now** and later"
    for limit in range(2, len(markdown)):
        cut = cut_markdown(markdown, limit)
        assert len(cut) <= limit
        assert cut.count("**") % 2 == 0
        assert "[" not in cut or "](https://lab.example/news)" in cut


def test_excerpt_keeps_only_safe_links_and_breaks_pings() -> None:
    markdown = excerpt_markdown(
        '<p>@everyone <a href="javascript:alert(1)">x</a> <a href="/p/2">two</a> *stars*</p>',
        "https://stack.example.com/p/1",
    )
    assert markdown == "@\u200beveryone x [two](https://stack.example.com/p/2) \\*stars\\*"


def test_a_template_names_every_problem_it_refuses() -> None:
    assert parse_template("{excerpt:300}!")[0].cap == 300  # type: ignore[union-attr]
    with pytest.raises(TemplateError, match=r"\{link\}"):
        check_format("text", "{url}")
    with pytest.raises(TemplateError):
        check_format("text", "{title:0}")
