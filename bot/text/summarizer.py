"""The Summarizer interface: the offline summarizer is the default, an LLM one is optional."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SummaryInput:
    """What a summarizer may read about one item (all already cleaned, never raw HTML)."""

    title: str
    text: str  # cleaned plain text of the body
    description: str  # the feed's own description/subtitle as plain text ("" if none)
    language: str | None  # BCP-47-ish code from the item or feed, e.g. "en", "ja"
    url: str | None = None
    content_hash: str = ""


class Summarizer(Protocol):
    """Turns one item into a short summary (≤ about 60 words / 400 characters)."""

    async def summarize(self, item: SummaryInput) -> str: ...
