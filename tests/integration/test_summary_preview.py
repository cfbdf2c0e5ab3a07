"""`digestbot preview` of a Substack-shaped feed: every summary is whole sentences (issue 19).

The fixture is built like a real Substack feed: a subtitle in <description>, the post in
content:encoded with share buttons, subscribe widgets, captioned images with inline SVG icons,
edit notes, voice-over notes, headings, figures introduced with a colon, long sentences full of
commas, abbreviations (U.S., i.e., etc.) and curly quotes. Before the fix, posts like these
ended at exactly 60 words, mid-clause, with "…".
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.feedserver import rss_feed

REPO = Path(__file__).resolve().parents[2]

SHARE = (
    '<p class="button-wrapper" data-attrs="{&quot;url&quot;:&quot;https://example.com/p/x'
    '?utm_source=substack&amp;utm_medium=email&amp;action=share&quot;}" data-component-name='
    '"ButtonCreateButton"><a class="button primary" href="https://example.com/p/x?action=share">'
    "<span>Share</span></a></p>"
)
SUBSCRIBE = (
    '<div class="subscription-widget-wrap-editor" data-component-name="SubscribeWidgetToDOM">'
    '<div class="subscription-widget show-subscribe"><div class="preamble"><p class="cta-caption">'
    "Field Notes on Compute is a reader-supported publication. To receive new posts and support "
    'my work, consider becoming a free or paid subscriber.</p></div><form><input type="email" '
    'placeholder="Type your email…"><input type="submit" value="Subscribe"></form></div></div>'
)


def figure(name: str, caption: str) -> str:
    img = f"https://substackcdn.com/image/fetch/w_1456,c_limit,f_auto/{name}.png"
    return (
        '<div class="captioned-image-container"><figure><a class="image-link image2" target='
        f'"_blank" href="{img}"><div class="image2-inset"><picture><source type="image/webp" '
        f'srcset="{img} 424w, {img} 848w"><img src="{img}" width="1456" height="816" alt="">'
        '</picture><div class="image-link-expand"><button class="pencraft pc-reset icon-container'
        ' restack-image"><svg role="img" width="20" height="20" viewBox="0 0 20 20"><g><title>'
        '</title><path d="M2.53 7.81C3.49 4.73 6.43 2.5 9.91 2.5"></path></g></svg></button>'
        f'</div></div></a><figcaption class="image-caption">{caption}</figcaption></figure></div>'
    )


def p(*sentences: str) -> str:
    return "<p>" + " ".join(sentences) + "</p>"


# (title, subtitle, body HTML). The prose is written for this test, in the sample's manner.
POSTS: list[tuple[str, str, str]] = [
    (
        "The price of inference is falling faster than anyone planned for",
        "Cheaper tokens change which products are worth building.",
        SHARE
        + p(
            "Edit Mar. 4: an earlier version of this post misstated one provider’s price; the "
            "chart below has been corrected."
        )
        + p(
            "Over the last eighteen months the price of a million tokens from a frontier-class "
            "model has fallen by roughly a factor of ten, with the largest drops arriving "
            "right after each new generation of accelerators reached the big clouds, which is "
            "a pace that few of the business plans written in 2024 assumed.",
            "The consequence is that products which were uneconomic a year ago, such as agents "
            "that read an entire codebase before answering, are now merely expensive, and "
            "products that were merely expensive are now cheap enough to give away.",
        )
        + figure("price-chart", "Price per million output tokens, by quarter.")
        + p("This changes who wins.")
        + SUBSCRIBE,
    ),
    (
        "Notes from a week of visiting hardware labs",
        "What I learned about chip supply from the people who build the boards.",
        p(
            "Sitting in a taxi crawling along the ring road at dusk, I watched the glass towers "
            "of the science park light up one floor at a time while the driver explained which "
            "building had changed owners twice this year.",
            "The air smelled of rain and diesel, and the meetings had run long.",
        )
        + "<h3>Supply is the real constraint</h3>"
        + p(
            "The labs building accelerators are limited far less by design talent than by "
            "access to advanced packaging, and every engineer I met described the same queue "
            "for the same few factories.",
            "That queue, more than any benchmark, decides which chips ship next year.",
        )
        + SUBSCRIBE,
    ),
    (
        "Open-weight models and the evaluation gap",
        "The number on the leaderboard hides as much as it shows.",
        p(
            "Note: Voice-overs for paid posts are available in your podcast app. Listen on "
            "Apple Podcasts, Spotify, and wherever you get your podcasts."
        )
        + p(
            "It’s tempting to read the gap between open and closed models as a single distance, "
            "a number of months or points, but the composite scores that most people quote "
            "average over tasks that move at very different speeds, i.e. the gap in math has "
            "nearly closed while the gap in long-horizon agent work has, if anything, grown.",
            "The most widely cited index combines about ten evaluations, and its authors change "
            "the mix every few months to keep it hard:",
        )
        + figure("index", "The composite index over time.")
        + p(
            "Reading the chart well means asking which evaluations were added, which were "
            "retired, and which ones the labs trained against, e.g. by building environments "
            "that look a lot like the test."
        ),
    ),
    (
        "A roundup of small models worth your attention",
        "",  # no subtitle: the summary is the opening alone
        SHARE
        + p(
            "This roundup is unusual in how many small, specialized models there are across "
            "speech, vision, retrieval and code, from labs in the U.S., Europe and India.",
            "Normally these lists are dominated by the big releases from the likes of the "
            "largest Chinese and American labs, Mistral, Cohere, etc. This month the most "
            "interesting work is in models under ten billion parameters, and several of them "
            "come with their full training data, which is still rare enough to celebrate.",
            "Expect more like this!",
        )
        + SUBSCRIBE,
    ),
    (
        "Why reinforcement learning keeps surprising the skeptics",
        "A year of “it won’t generalize” and what happened instead.",
        p(
            "When I started writing about reinforcement learning for language models, the "
            "common view among the researchers I talked to was that it would help with math "
            "and code, where answers can be checked, and little else.",
            "That view has not aged well, and the reasons why tell us where training goes next.",
        )
        + p(
            "The core of the argument is that verifiable rewards were never limited to math: "
            "any task where a program, a test suite or a second model can check the answer "
            "becomes trainable, and the set of such tasks has grown every quarter since the "
            "first reasoning models shipped, which is why the skeptics keep being surprised.",
        ),
    ),
    (
        "Interview: building a search engine for scientific papers",
        "Dr. Ana Ruiz on retrieval, citations and the limits of embeddings.",
        p("Listen now on Apple Podcasts, Spotify, YouTube, or wherever you get your podcasts.")
        + p(
            "Dr. Ruiz leads the retrieval team at a nonprofit that indexes more than two hundred "
            "million papers, and she has opinions about embeddings that she was happy to share "
            "at length, starting with why a citation graph still beats a vector index for "
            "finding the paper you actually need, and ending with what she would build if she "
            "started again tomorrow with today’s models and none of the legacy code.",
            "We also talked about peer review.",
        )
        + p("Thanks for reading! Subscribe for free to receive new posts.")
        + "<h3>Chapters</h3><p>00:00 Intro</p><p>04:12 Citation graphs</p>",
    ),
    (
        "Is the data wall real?",
        "Maybe, but not yet, and not where people expect it.",
        p(
            "Every few months someone announces that we have run out of text to train on, and "
            "every few months a lab ships a model trained on more tokens than the last one.",
            "Both things can be true at once?",
            "The supply of high-quality human writing is finite, yet synthetic data, better "
            "filtering and repeated epochs over the best sources have so far stretched it much "
            "further than the early estimates allowed, and the binding constraint has moved to "
            "compute and evaluation instead.",
        ),
    ),
    (
        "The week in chips",
        "Short notes from the supply chain.",
        p("Two new accelerators shipped this week.")
        + figure("shipments", "Accelerator shipments by vendor, 2024–2026.")
        + p("Both are late, and both are sold out until the autumn.")
        + SHARE,
    ),
    (
        "Policy week in review",
        "Three bills, two hearings and one executive order.",
        p(
            "It was a busy week in Washington for anyone following AI policy, with activity in "
            "both chambers and a long-awaited order from the White House that sets reporting "
            "rules for the largest training runs, defined by the amount of compute they use.",
            "Here is what matters, what is noise, and what to watch next week:",
        )
        + "<ul><li>The reporting threshold</li><li>The export rules</li></ul>",
    ),
]

WHOLE_SENTENCE_END = re.compile(r"[.!?。][\"'”’)\]]*$")


def substack_feed() -> str:
    return rss_feed(
        [
            {
                "title": title,
                "link": f"https://fieldnotes.example.com/p/post-{n}",
                "guid": f"https://fieldnotes.example.com/p/post-{n}",
                "description": subtitle,
                "content": content,
                "pubDate": f"Mon, {10 + n:02d} Mar 2026 14:00:00 GMT",
                "author": "A. Writer",
            }
            for n, (title, subtitle, content) in enumerate(POSTS)
        ],
        title="Field Notes on Compute",
        link="https://fieldnotes.example.com",
        description="Essays on AI hardware, models and policy.",
        language="en",
    )


async def preview(feed_file: Path, tmp_path: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "preview",
        str(feed_file),
        "--limit",
        str(len(POSTS)),
        cwd=REPO,
        env={
            **os.environ,
            "DIGESTBOT_LOG_LEVEL": "WARNING",
            "DIGESTBOT_DB": str(tmp_path / "unused.db"),
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return out.decode()


def summary_lines(output: str) -> dict[str, str]:
    """Each item's title → its summary line (the last line of its block in the preview)."""
    summaries: dict[str, str] = {}
    for block in output.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].startswith("[Field Notes on Compute] "):
            summaries[lines[0].removeprefix("[Field Notes on Compute] ")] = lines[-1].strip()
    return summaries


async def test_preview_summaries_are_whole_sentences_within_400_characters(
    tmp_path: Path,
) -> None:
    feed_file = tmp_path / "substack.rss.xml"
    feed_file.write_text(substack_feed(), encoding="utf-8")
    summaries = summary_lines(await preview(feed_file, tmp_path))
    assert set(summaries) == {title for title, _, _ in POSTS}
    for title, subtitle, _ in POSTS:
        summary = summaries[title]
        assert len(summary) <= 400, (title, summary)
        assert WHOLE_SENTENCE_END.search(summary), (title, summary)  # never "… with…"
        if subtitle:
            assert summary.startswith(subtitle.rstrip(".")), (title, summary)
    # The scene in the taxi is skipped for the paragraph that states the argument.
    labs = summaries["Notes from a week of visiting hardware labs"]
    assert "taxi" not in labs and "The labs building accelerators are limited" in labs
    # A sentence that only introduces a chart or a list is not where a summary ends.
    assert not summaries["Policy week in review"].endswith(":")
    assert "keep it hard" not in summaries["Open-weight models and the evaluation gap"]
    # A figure's caption is not a sentence of the story.
    assert summaries["The week in chips"] == (
        "Short notes from the supply chain. Two new accelerators shipped this week. "
        "Both are late, and both are sold out until the autumn."
    )
    # Furniture and notes never make it in.
    assert not any(
        marker in summary
        for summary in summaries.values()
        for marker in ("Edit Mar", "Voice-over", "Spotify", "reader-supported", "Subscribe")
    )
