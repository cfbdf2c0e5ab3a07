"""Search snippets are made Discord markdown by the render, through bot.safe."""

from __future__ import annotations

from bot.delivery.terminal import plain
from bot.features.search.render import snippet_markdown
from bot.store.search import SNIPPET_CLOSE, SNIPPET_OPEN


def test_snippet_markdown_passes_feed_text_through_the_gate() -> None:
    raw = f"\x1b[31mred\x1b[0m <@123> <@&9> @here *x* {SNIPPET_OPEN}match{SNIPPET_CLOSE} \u202eevil"
    snippet = snippet_markdown(raw)
    assert "**match**" in snippet
    assert "\x1b" not in snippet and "\u202e" not in snippet  # no terminal or bidi controls
    assert "<@123>" not in snippet and "<@&9>" not in snippet and "@here" not in snippet
    assert "\\*x\\*" in snippet
    # Read back for the terminal: the feed's words, no markup of ours or theirs.
    assert "*x* match evil" in plain(snippet)
