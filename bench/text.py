"""Micro-benchmark of the text stage: clean, summary, whole enrich, per item.

    .venv/bin/python bench/text.py                 # synthetic Substack-shaped posts (~15 kB)
    .venv/bin/python bench/text.py FEED.xml        # also the items of a real feed file

Also times a post's {excerpt} (bot.text.excerpt: the archived opening cleaned and made
markdown by markdownify when a post is rendered). Prints milliseconds per item (best of N runs).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.features.posts.format import EXCERPT_DEFAULT_CHARS
from bot.model import Entry
from bot.store.items import OPENING_HTML_CHARS
from bot.text.clean import clean_html
from bot.text.enrich import enrich_entry
from bot.text.excerpt import cut_markdown, excerpt_markdown
from bot.text.summary import offline_summary

VOCABULARY = (
    "model open closed lab benchmark training data compute research policy safety agent "
    "release weights inference market economics frontier scaling evaluation ecosystem "
    "the a of and to in is that for with on as it are this by be was at from or"
)
WORDS = VOCABULARY.split()

SVG_CHROME = (
    '<div class="image-link-expand"><div class="pencraft pc-display-flex pc-gap-8 pc-reset">'
    '<button tabindex="0" type="button" class="pencraft pc-reset pencraft icon-container '
    'restack-image"><svg role="img" width="20" height="20" viewBox="0 0 20 20" fill="none">'
    '<g><title></title><path d="M2.53001 7.81595C3.49179 4.73911 6.43281 2.5 9.91173 2.5C13.1684 '
    '2.5 15.9537 4.46214 17.0852 7.23684L17.6179 8.67647"></path></g></svg></button><button '
    'class="pencraft pc-reset pencraft icon-container view-image"><svg width="20" height="20">'
    '<polyline points="15 3 21 3 21 9"></polyline><line x1="21" x2="14" y1="3" y2="10"></line>'
    "</svg></button></div></div>"
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 24))]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _paragraph(rng: random.Random, n: int) -> str:
    parts = []
    for i in range(rng.randint(3, 6)):
        sentence = _sentence(rng)
        if i == 1:
            head, _, tail = sentence.partition(" ")
            sentence = f'{head} <a href="https://example.com/p/{n}-{i}">{tail[:-1]}</a>.'
        parts.append(sentence)
    return "<p>" + " ".join(parts) + "</p>"


def substack_post(seed: int, target_bytes: int = 15_000) -> str:
    """A synthetic post with Substack's furniture, about `target_bytes` long."""
    rng = random.Random(seed)
    chunks = [
        '<p class="button-wrapper" data-component-name="ButtonCreateButton"><a class="button '
        'primary" href="https://example.com/p/x?action=share"><span>Share</span></a></p>'
    ]
    n = 0
    while sum(map(len, chunks)) < target_bytes:
        n += 1
        chunks.append(_paragraph(rng, n))
        if n % 5 == 0:
            chunks.append(f"<h3>{_sentence(rng)[:-1]}</h3>")
        if n % 6 == 0:
            img = f"https://substackcdn.com/image/fetch/w_1456/post-{seed}-{n}.png"
            chunks.append(
                '<div class="captioned-image-container"><figure><a class="image-link image2" '
                f'href="{img}"><div class="image2-inset"><picture><source type="image/webp" '
                f'srcset="{img} 424w, {img} 848w"><img src="{img}" width="1456" height="800" '
                f'alt="chart"></picture>{SVG_CHROME}</div></a><figcaption class="image-caption">'
                f"{_sentence(rng)}</figcaption></figure></div>"
            )
        if n % 7 == 0:
            chunks.append(
                '<div class="subscription-widget-wrap-editor" data-component-name='
                '"SubscribeWidgetToDOM"><div class="subscription-widget show-subscribe"><div '
                'class="preamble"><p class="cta-caption">Example is a reader-supported '
                "publication. Consider becoming a subscriber.</p></div><form><input "
                'type="email" placeholder="Type your email…"><input type="submit" '
                'value="Subscribe"></form></div></div>'
            )
        if n % 8 == 0:
            items = "".join(f"<li>{_sentence(rng)}</li>" for _ in range(4))
            chunks.append(f"<ul>{items}</ul>")
    return "".join(chunks)


def best_ms(fn: Callable[[], object], items: int, repeat: int = 7) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best / items * 1000


def report(label: str, posts: Sequence[tuple[str, str, str]]) -> None:
    """posts: (title, description html, content html)."""
    size = sum(len(c) for _, _, c in posts) / len(posts)
    cleaned = [clean_html(c, "https://example.com/p/x") for _, _, c in posts]
    n = len(posts)
    t_clean = best_ms(lambda: [clean_html(c, "https://example.com/") for _, _, c in posts], n)
    t_summary = best_ms(
        lambda: [
            offline_summary(t, "", cl.text, "en")
            for (t, _, _), cl in zip(posts, cleaned, strict=True)
        ],
        n,
    )
    entries = [
        Entry(f"id{i}", t, "https://example.com/p/x", None, None, c, d)
        for i, (t, d, c) in enumerate(posts)
    ]
    t_enrich = best_ms(
        lambda: [enrich_entry(e, feed_language="en", base_url=None) for e in entries], n
    )
    print(f"{label}: {n} items, {size / 1000:.1f} kB HTML on average")
    print(f"  clean_html         {t_clean:6.2f} ms/item  ({t_clean * 15_000 / size:.2f} per 15 kB)")
    print(f"  offline_summary    {t_summary:6.2f} ms/item")
    print(f"  enrich_entry (all) {t_enrich:6.2f} ms/item")
    openings = [c[:OPENING_HTML_CHARS] for _, _, c in posts]
    t_excerpt = best_ms(
        lambda: [
            cut_markdown(excerpt_markdown(h, "https://example.com/"), EXCERPT_DEFAULT_CHARS)
            for h in openings
        ],
        n,
    )
    print(f"  {{excerpt}} per post {t_excerpt:6.2f} ms/post (clean + markdownify, at render time)")


def feed_posts(path: str) -> list[tuple[str, str, str]]:
    import feedparser

    parsed = feedparser.parse(
        Path(path).read_bytes(), sanitize_html=False, resolve_relative_uris=False
    )
    posts = []
    for e in parsed.entries:
        content = e.get("content", [{}])[0].get("value", "") or e.get("summary", "")
        posts.append((e.get("title", ""), e.get("summary", ""), content))
    return posts


def main() -> None:
    synthetic = [(f"Post {i}", "A subtitle.", substack_post(i)) for i in range(40)]
    report("synthetic Substack-shaped", synthetic)
    for path in sys.argv[1:]:
        report(path, feed_posts(path))


if __name__ == "__main__":
    main()
