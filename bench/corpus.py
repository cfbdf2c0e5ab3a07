"""A generated Substack-shaped corpus: deterministic feeds of ~15 kB HTML posts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

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


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _paragraph(rng: random.Random) -> str:
    return "<p>" + " ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) + "</p>"


def post_html(rng: random.Random, feed: int, post: int, target_bytes: int = 15_000) -> str:
    """A post with Substack furniture: subscribe widget, captioned image, share, footnotes."""
    parts = [
        f"<p>Newsletter {feed} is a reader-supported publication. To receive new posts and support "
        "my work, consider becoming a free or paid subscriber.</p>",
        '<div class="subscription-widget-wrap"><div class="subscription-widget show-subscribe">'
        '<form class="subscription-widget-subscribe"><input type="email" name="email">'
        '<input type="submit" value="Subscribe"></form></div></div>',
    ]
    while sum(len(p) for p in parts) < target_bytes:
        parts.append(_paragraph(rng))
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
            f"<title>{escape(_sentence(rng)[:80])}</title>"
            f"<link>https://n{feed}.example.com/p/post-{post}</link>"
            f'<guid isPermaLink="false">n{feed}-{post}</guid>'
            f"<description>{escape(_sentence(rng))}</description>"
            f"<dc:creator>Author {feed}</dc:creator>"
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
    ).encode()
