"""A parse function for the sandbox's worker (named "tests.hostileparse:parse") that misbehaves
on request: b"spin" runs forever, b"hog" allocates until the address space runs out, anything
else is parsed by the real parse_feed."""

from __future__ import annotations

from collections.abc import Mapping

from bot.ingest.parse import parse_feed
from bot.model import ParsedFeed


def parse(body: bytes, headers: Mapping[str, str], base_url: str | None) -> ParsedFeed:
    if body == b"spin":
        while True:
            pass
    if body == b"hog":
        hoard = []
        while True:
            hoard.append(bytearray(16 * 2**20))
    return parse_feed(body, headers, base_url)
