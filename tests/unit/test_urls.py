"""Feed URL normalization: one feed is stored once however it is typed."""

from __future__ import annotations

import pytest

from bot.ingest.urls import InvalidURLError, normalize_feed_url


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("example.com/feed", "https://example.com/feed"),
        ("HTTP://Example.COM:80/a?x=1#frag", "http://example.com/a?x=1"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/f", "https://example.com:8443/f"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://bücher.de/feed", "https://xn--bcher-kva.de/feed"),
        ("  https://example.com/feed  ", "https://example.com/feed"),
    ],
)
def test_normalized(typed: str, stored: str) -> None:
    assert normalize_feed_url(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["not a url", "ftp://example.com/f", "file:///etc/passwd", "https://", "https://u:p@e.com/"],
)
def test_refused(typed: str) -> None:
    with pytest.raises(InvalidURLError):
        normalize_feed_url(typed)
