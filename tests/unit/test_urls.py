"""Feed URL normalization: one feed is stored once however it is typed."""

from __future__ import annotations

import pytest

from bot.ingest.urls import InvalidURLError, normalize_feed_url, own_address


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
        ("https://example.com/feed.xml?utm_source=x&UTM_Medium=y", "https://example.com/feed.xml"),
        ("https://e.com/f?a=1&fbclid=z&b=%2F&utm_campaign", "https://e.com/f?a=1&b=%2F"),
        ("https://example.com//feed.xml", "https://example.com/feed.xml"),
        ("https://example.com/a///b/?q=//x", "https://example.com/a/b/?q=//x"),
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


@pytest.mark.parametrize(
    ("claimed", "fetched", "trusted"),
    [
        (
            "https://Example.com/feed?utm_source=x",
            "https://example.com/f",
            "https://example.com/feed",
        ),
        ("https://example.com/feed", "https://www.example.com/f", "https://example.com/feed"),
        ("https://victim.example.org/feed", "https://example.com/f", None),
        ("javascript:alert(1)", "https://example.com/f", None),
        (None, "https://example.com/f", None),
    ],
)
def test_a_feed_names_itself_only_on_its_own_host(
    claimed: str | None, fetched: str, trusted: str | None
) -> None:
    assert own_address(claimed, fetched) == trusted
