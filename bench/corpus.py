"""A generated Substack-shaped corpus: deterministic feeds of ~15 kB HTML posts.

Shaped like the real Substack feed in shared/samples: typographic punctuation written as
numeric character references inside the CDATA HTML (&#8217; &#8220; &#8221; &#8212; &#8211;
&#8230;, ~1 every 90 characters, as in that feed), accented names (T&#252;lu, Jos&#233;), raw
UTF-8 curly quotes in titles, and every 10th newsletter writing partly in Japanese (raw UTF-8).
A corpus of pure ASCII would flatter every str operation with an ASCII fast path.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

WORDS = [
    "model",
    "open",
    "weights",
    "training",
    "data",
    "benchmark",
    "evaluation",
    "reasoning",
    "agents",
    "inference",
    "compute",
    "scaling",
    "research",
    "policy",
    "safety",
    "release",
    "startup",
    "cluster",
    "tokens",
    "latency",
    "fine",
    "tuning",
    "distillation",
    "alignment",
    "reward",
    "preference",
    "dataset",
    "pretraining",
    "architecture",
    "attention",
    "context",
    "window",
    "multimodal",
    "vision",
    "speech",
    "robotics",
    "chips",
    "supply",
    "export",
    "regulation",
    "lab",
    "frontier",
    "leaderboard",
    "arena",
    "paper",
    "preprint",
    "code",
    "math",
    "science",
    "biology",
    "economics",
    "market",
    "pricing",
    "api",
    "developer",
    "product",
    "launch",
    "interview",
    "podcast",
    "episode",
    "newsletter",
    "essay",
    "argument",
]


NAMES = ["T&#252;lu", "Jos&#233;", "Fran&#231;ois", "Zo&#235;", "Andr&#233;s", "M&#252;ller", "Ai2"]
NAMES_RAW = ["Tülu", "José", "François", "Zoë", "Andrés", "Müller", "Ai2"]
JAPANESE = [
    "人工知能の研究は急速に進んでいる。",
    "新しい言語モデルが公開された。",
    "半導体の輸出規制について議論が続く。",
    "推論のコストは毎月下がっている。",
    "オープンなモデルの重みを公開する企業が増えた。",
]


def _sentence(rng: random.Random, *, refs: bool = True) -> str:
    """One sentence; `refs` writes punctuation as character references (HTML), else raw."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    names = NAMES if refs else NAMES_RAW
    apostrophe, dash, open_q, close_q = (
        ("&#8217;", "&#8212;", "&#8220;", "&#8221;") if refs else ("’", "—", "“", "”")
    )
    if rng.random() < 0.17:
        words[rng.randrange(len(words))] += apostrophe + "s"
    if rng.random() < 0.03:
        words.insert(rng.randrange(1, len(words)), dash)
    if rng.random() < 0.03:
        i = rng.randrange(len(words) - 1)
        words[i] = open_q + words[i]
        words[i + 1] += close_q
    if rng.random() < 0.05:
        words.insert(rng.randrange(1, len(words)), rng.choice(names))
    if rng.random() < 0.05:
        words.insert(rng.randrange(1, len(words)), "2024" + ("&#8211;" if refs else "–") + "25")
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _paragraph(rng: random.Random, japanese: bool = False) -> str:
    sentences = [_sentence(rng) for _ in range(rng.randint(3, 6))]
    if japanese:
        sentences[rng.randrange(len(sentences))] = "".join(rng.sample(JAPANESE, 3))
    if rng.random() < 0.1:
        sentences[-1] = sentences[-1][:-1] + "&#8230;"
    return "<p>" + " ".join(sentences) + "</p>"


def post_html(rng: random.Random, feed: int, post: int, target_bytes: int = 15_000) -> str:
    """A post with Substack furniture: subscribe widget, captioned image, share, footnotes."""
    parts = [
        f"<p>Newsletter {feed} is a reader-supported publication. To receive new posts and support "
        "my work, consider becoming a free or paid subscriber.</p>",
        '<div class="subscription-widget-wrap"><div class="subscription-widget show-subscribe">'
        '<form class="subscription-widget-subscribe"><input type="email" name="email">'
        '<input type="submit" value="Subscribe"></form></div></div>',
    ]
    japanese = feed % 10 == 3
    while sum(len(p) for p in parts) < target_bytes:
        parts.append(_paragraph(rng, japanese and rng.random() < 0.5))
        if rng.random() < 0.15:
            parts.append(
                '<div class="captioned-image-container"><figure><a class="image-link image2" '
                f'href="https://cdn.example.com/{feed}/{post}.png"><img src="https://cdn.example'
                f'.com/{feed}/{post}.png" width="1200" height="675"><div class="image-link-expand">'
                '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><path d="M1 1"/>'
                "</svg></div></a><figcaption>A chart.</figcaption></figure></div>"
            )
        if rng.random() < 0.1:
            parts.append(
                '<p class="button-wrapper"><a class="button primary" href="https://n.example.com/'
                'subscribe"><span>Subscribe now</span></a></p>'
            )
    parts.append(
        '<div class="footnote"><a class="footnote-number" href="#footnote-anchor-1">1</a>'
        '<div class="footnote-content"><p>A footnote.</p></div></div>'
        '<img src="https://track.example.com/open.gif" width="1" height="1">'
    )
    return "".join(parts)


def feed_xml(feed: int, items: int = 20, *, seed: int = 0) -> bytes:
    rng = random.Random(seed * 1_000_003 + feed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    for post in range(items):
        published = start + timedelta(days=post, hours=feed % 24)
        entries.append(
            "<item>"
            f"<title><![CDATA[{_sentence(rng, refs=False)[:80]}]]></title>"
            f"<link>https://n{feed}.example.com/p/post-{post}</link>"
            f'<guid isPermaLink="false">n{feed}-{post}</guid>'
            f"<description><![CDATA[{_sentence(rng, refs=False)}]]></description>"
            f"<dc:creator><![CDATA[{NAMES_RAW[feed % len(NAMES_RAW)]} Author {feed}]]></dc:creator>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<content:encoded><![CDATA[{post_html(rng, feed, post)}]]></content:encoded>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Newsletter {feed}</title><link>https://n{feed}.example.com</link>"
        f"<description>Posts about things, number {feed}</description><language>en</language>"
        + "".join(reversed(entries))
        + "</channel></rss>"
    ).encode("utf-8")
