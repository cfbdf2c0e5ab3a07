"""A generated newsletter archive for the search and percolator benchmarks.

Many newsletters with their own pet words, a shared Zipf-like vocabulary (a few very common
words, a long tail), real tech words at realistic ranks, some Japanese newsletters. Everything
is derived from a seed, so runs are comparable.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


SYLLABLES = _words(
    "ka ri to mo ne sa lu vi pe da no ra te si mu lo be gi fa ze ta ko ni ma re po su ve li de mi"
)
# Real words placed at chosen ranks of the shared vocabulary (rank 0 = most frequent).
COMMON = _words(
    "the of and to in a is that for it on with as are this was be by at or from have an not "
    "but you all they we can more their one has which will about new its also been when"
)
TECH = _words(
    "ai model models open weight weights training data language llm inference gpu agents "
    "benchmark release paper research startup funding policy chip chips compute safety "
    "reasoning token tokens context window fine tuning dataset evaluation robotics vision "
    "audio video search browser privacy security cloud latency python rust database sqlite "
    "newsletter podcast interview market revenue pricing regulation europe china openai "
    "anthropic google meta nvidia apple microsoft mistral llama qwen deepseek tulu olmo "
    "gemini claude transformer diffusion alignment energy climate battery solar housing"
)
JAPANESE = _words(
    "自動更新 人工知能 機械学習 言語モデル 発表 研究 開発 企業 市場 価格 政府 規制 半導体 "
    "データ 安全性 推論 画像 音声 検索 無料 有料 会員 登録 解約 毎月 今週 ニュース 記事"
)
JP_PARTICLES = _words("は が を に で と の も から まで")


def make_vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set(COMMON) | set(TECH)
    out: list[str] = []
    while len(out) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in words:
            words.add(word)
            out.append(word)
    # Common words at the top, tech words spread over ranks 60..3000.
    vocab = list(COMMON) + out
    for i, word in enumerate(TECH):
        vocab.insert(60 + i * 25, word)
    return vocab


@dataclass(frozen=True, slots=True)
class Doc:
    feed: int
    title: str
    summary: str
    text: str
    author: str
    published: float


class ArchiveGenerator:
    """Yields `Doc`s for `items` items spread over `feeds` newsletters, oldest first."""

    def __init__(self, items: int, feeds: int, seed: int = 7) -> None:
        self.items = items
        self.feeds = feeds
        self.rng = random.Random(seed)
        self.vocab = make_vocabulary(40_000, self.rng)
        weights = [1.0 / (rank + 8) ** 1.05 for rank in range(len(self.vocab))]
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]
        # Each newsletter has pet words (its beat) used far more than the global rate.
        self.pets = [
            [self.vocab[self.rng.randint(40, 6000)] for _ in range(25)] for _ in range(feeds)
        ]
        self.japanese = {f for f in range(feeds) if f % 17 == 3}
        self.authors = [f"Author {self.rng.randint(1, 3 * feeds)}" for _ in range(feeds)]

    def _words(self, n: int, feed: int) -> list[str]:
        rng = self.rng
        cum, total, vocab = self.cum, self.total, self.vocab
        words = [vocab[bisect.bisect(cum, rng.random() * total)] for _ in range(n)]
        pets = self.pets[feed]
        for i in range(0, n, 9):
            words[i] = rng.choice(pets)
        return words

    def _jp(self, n: int) -> str:
        rng = self.rng
        return "".join(rng.choice(JAPANESE) + rng.choice(JP_PARTICLES) for _ in range(n)) + "。"

    def _sentences(self, n: int, feed: int) -> str:
        words = self._words(n, feed)
        out: list[str] = []
        for i in range(0, n, 14):
            chunk = words[i : i + 14]
            out.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
        return " ".join(out)

    def __iter__(self) -> Iterator[Doc]:
        rng = self.rng
        start = 1_600_000_000.0
        span = 3 * 365 * 86400.0
        for i in range(self.items):
            feed = rng.randrange(self.feeds)
            published = start + span * i / self.items + rng.random() * 3600
            if feed in self.japanese:
                title = self._jp(3)
                summary = self._jp(8)
                text = " ".join(self._jp(rng.randint(10, 40)) for _ in range(3))
            else:
                title = " ".join(self._words(rng.randint(5, 10), feed)).capitalize()
                summary = self._sentences(rng.randint(25, 45), feed)
                text = self._sentences(rng.randint(80, 400), feed)
            yield Doc(feed, title, summary, text, self.authors[feed], published)

    def queries(self, count: int, seed: int = 11) -> list[str]:
        """Realistic 1–3 word queries: tech words, pet words, phrases lifted from text, a
        few very common words, exclusions and ORs, some Japanese."""
        rng = random.Random(seed)
        out: list[str] = []
        mid = self.vocab[60:8000]
        while len(out) < count:
            kind = rng.random()
            if kind < 0.25:
                out.append(" ".join(rng.sample(TECH, rng.randint(1, 2))))
            elif kind < 0.45:
                out.append(" ".join(rng.sample(mid, rng.randint(1, 3))))
            elif kind < 0.6:
                pets = rng.choice(self.pets)
                out.append(rng.choice(pets) + " " + rng.choice(TECH))
            elif kind < 0.7:
                words = self._words(30, rng.randrange(self.feeds))
                j = rng.randrange(25)
                out.append('"' + " ".join(words[j : j + rng.randint(2, 3)]) + '"')
            elif kind < 0.78:
                out.append(rng.choice(COMMON[:20]) + " " + rng.choice(TECH))
            elif kind < 0.85:
                out.append(f"{rng.choice(TECH)} -{rng.choice(TECH)}")
            elif kind < 0.92:
                out.append(f"{rng.choice(TECH)} OR {rng.choice(TECH)}")
            else:
                out.append(rng.choice(JAPANESE))
        return out
