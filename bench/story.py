"""Benchmark "the same story" (issue 16): precision and recall on a labelled set, and the cost
per new item of merging at 200,000 archived items.

    .venv/bin/python -m bench.story                    # labelled set + cost at 200,000 items
    .venv/bin/python -m bench.story --archive 20000    # a quicker cost run

The labelled set is generated (seeded): stories in topic clusters, where stories of one topic
share names and stock phrases ("the Commerce Department", "AI accelerator chips") and differ in
their event. Pairs labelled "same story":

- syndicated: another site's URL, a retitled headline ("Opinion: …", "… | Site"), a line of
  boilerplate before the text, and about one word in twelve replaced or dropped;
- tracked: the same URL with tracking parameters, `www.` and a trailing slash, and the linking
  letter's own blurb instead of the text;
- re-published: the same text under a new URL, the title prefixed "Updated:".

Pairs labelled "different stories": two stories of the same topic (the hard negatives), and
two letters' issues of one number ("Alpha letter 7: issue 7 of the alpha letter…"). Each
pair is decided by bot.ingest.story.same_story; a threshold sweep shows why
`SAME_STORY_JACCARD` is where it is.

Cost: a real SQLite store in a temporary folder with `--archive` items of 50 feeds, every one
posted in one channel (sent deliveries spread over a year, so the 72-hour window holds
`--archive` × 3/365 posts: 1,640 at 200,000), then `--new` new items routed to that channel
through bot.store.routing.route_new_items, with and without the story gate (the difference is
the merging's cost: the key written, the window's candidates read and compared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.ingest import story
from bot.model import ItemText
from bot.store import Store
from bot.store.routing import route_new_items

TOPICS = [
    ("the Commerce Department", "AI accelerator chips", "export licences", "data-centre parts"),
    ("the European Commission", "the Digital Markets Act", "app store fees", "gatekeepers"),
    ("the Federal Reserve", "interest rates", "inflation figures", "the labour market"),
    ("OpenAI", "the new reasoning model", "API prices", "enterprise customers"),
    ("the city council", "the tram extension", "the housing plan", "rent caps"),
    ("Nvidia", "quarterly revenue", "the Blackwell GPUs", "cloud providers"),
    ("the Rust project", "the 2024 edition", "async closures", "the borrow checker"),
    ("the WHO", "the bird flu outbreak", "vaccine stockpiles", "dairy farms"),
]
STOCK = [
    "officials said on {day} that {a} would {verb} {b}",
    "the decision affects {c} and {d} across the region",
    "critics argue that {a} has moved too slowly on {b}",
    "analysts expect {c} to shape {d} for years",
    "a spokesperson for {a} declined to comment on {c}",
]
FILLER = [
    "announce",
    "review",
    "delay",
    "expand",
    "cut",
    "raise",
    "approve",
    "block",
    "sign",
    "publish",
    "warn",
    "propose",
    "confirm",
    "reject",
    "settle",
    "launch",
    "pause",
    "fund",
    "test",
    "sue",
    "hire",
    "extend",
    "narrow",
    "double",
    "halve",
    "open",
    "close",
    "report",
    "revise",
    "audit",
    "license",
    "ship",
    "rent",
    "mandate",
    "exempt",
    "reverse",
    "signal",
    "tighten",
    "loosen",
]
EVENT = [
    "tuesday",
    "pilot",
    "programme",
    "six",
    "months",
    "forty",
    "countries",
    "resellers",
    "loophole",
    "thirty",
    "days",
    "lawsuit",
    "settlement",
    "hearing",
    "vote",
    "budget",
    "deficit",
    "surplus",
    "strike",
    "walkout",
    "merger",
    "takeover",
    "recall",
    "outage",
    "breach",
    "leak",
    "fine",
    "appeal",
    "ruling",
    "injunction",
    "deadline",
    "waiver",
    "subsidy",
    "tariff",
    "quota",
    "rebate",
    "bond",
    "auction",
    "forecast",
    "survey",
    "census",
    "memo",
    "draft",
    "amendment",
    "veto",
    "quorum",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


@dataclass(frozen=True, slots=True)
class Doc:
    url: str
    title: str
    text: str

    def key(self) -> story.StoryKey:
        return story.story_key(ItemText(0, self.url, self.title, self.text, self.text))


def make_story(rng: random.Random, topic: int, n: int) -> Doc:
    a, b, c, d = TOPICS[topic]
    event = rng.sample(EVENT, 6)
    verbs = rng.sample(FILLER, 4)
    sentences = [
        f"{a.capitalize()} will {verbs[0]} the {event[0]} {event[1]} after the {event[2]}",
        rng.choice(STOCK).format(a=a, b=b, c=c, d=d, day=rng.choice(DAYS), verb=verbs[1]),
        f"The {event[3]} follows a {event[4]} that {verbs[2]} {c} and the {event[5]}",
        rng.choice(STOCK).format(a=a, b=b, c=c, d=d, day=rng.choice(DAYS), verb=verbs[3]),
        f"People close to the {event[0]} said the {event[3]} could {verbs[1]} {d} by spring",
    ]
    title = f"{a.capitalize()} to {verbs[0]} {event[0]} {event[1]} over {b}"
    return Doc(f"https://news{topic}.example.com/p/{n}-{event[0]}", title, ". ".join(sentences))


def distinct_story(rng: random.Random, n: int) -> Doc:
    """A story unlike the others (a 20,000-word vocabulary): what most of a channel's posts
    are to one another."""
    words = [f"w{rng.randrange(20_000):x}" for _ in range(70)]
    return Doc(f"https://site{n % 97}.example.com/p/{n}", " ".join(words[:9]), " ".join(words[9:]))


def syndicated(rng: random.Random, doc: Doc, n: int) -> Doc:
    words = doc.text.split()
    edited: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < 0.04:
            continue  # dropped
        edited.append(rng.choice(FILLER) if roll < 0.085 else word)
    title = rng.choice(["Opinion: {t}", "{t} | The Wire", "{t}", "Analysis: {t}"])
    lead = rng.choice(["", "This piece first appeared in The Ledger. ", "Syndicated. "])
    return Doc(
        f"https://syndicate{n % 7}.example.org/{n}/copy",
        title.format(t=doc.title),
        lead + " ".join(edited),
    )


def tracked(rng: random.Random, doc: Doc, n: int) -> Doc:
    url = doc.url.replace("https://", "http://www.") + f"/?utm_source=letter{n}&utm_medium=email"
    blurb = rng.choice(["A link we liked.", "Worth your time today.", "Read this one."])
    return Doc(url, rng.choice(["Link of the day", doc.title]), blurb)


def republished(doc: Doc) -> Doc:
    return Doc(doc.url + "-2", f"Updated: {doc.title}", doc.text)


def templated(letter: str, n: int) -> Doc:
    """A letter's numbered issue with a one-line blurb: another letter's issue of the same
    number differs in one name only (the crash tests' feeds look like this)."""
    return Doc(
        f"https://{letter}.example.com/p/{n}",
        f"{letter.title()} letter {n}",
        f"Issue {n} of the {letter} letter, with a few words.",
    )


def labelled_pairs(seed: int, per_topic: int) -> list[tuple[Doc, Doc, bool]]:
    rng = random.Random(seed)
    pairs: list[tuple[Doc, Doc, bool]] = []
    n = 0
    for topic in range(len(TOPICS)):
        docs = [make_story(rng, topic, n + i) for i in range(per_topic)]
        n += per_topic
        for i, doc in enumerate(docs):
            pairs.append((doc, syndicated(rng, doc, n + i), True))
            pairs.append((doc, tracked(rng, doc, n + i), True))
            pairs.append((doc, republished(doc), True))
            other = docs[(i + 1) % len(docs)]
            pairs.append((doc, other, False))
            pairs.append((doc, syndicated(rng, other, n + i), False))
            pairs.append((other, doc, False))
            pairs.append((templated("alpha", n + i), templated("beta", n + i), False))
    return pairs


def quality(pairs: list[tuple[Doc, Doc, bool]]) -> None:
    keyed = [(a.key(), b.key(), same) for a, b, same in pairs]
    positives = sum(same for _, _, same in keyed)
    print(
        f"labelled set: {len(keyed)} pairs ({positives} same story, "
        f"{len(keyed) - positives} different stories of one topic)"
    )
    print("threshold  precision  recall   (same link OR text similarity >= threshold)")
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6):
        tp = fp = fn = 0
        for a, b, same in keyed:
            said = (a.url is not None and a.url == b.url) or story.similarity(
                b.sketch, a.sketch
            ) >= threshold
            tp += said and same
            fp += said and not same
            fn += same and not said
        precision = tp / (tp + fp) if tp + fp else 1.0
        marker = "  <- SAME_STORY_JACCARD" if threshold == story.SAME_STORY_JACCARD else ""
        print(f"  {threshold:.1f}      {precision:.4f}     {tp / (tp + fn):.4f}{marker}")
    said = [
        (a.url is not None and a.url == b.url)
        or (bool(set(a.bands) & set(b.bands)) and story.same_story(b, a))
        for a, b, _ in keyed
    ]
    found = sum(s and same for s, (_, _, same) in zip(said, keyed, strict=True))
    print(
        f"through the index (a shared band of {story.BAND_ROWS} of "
        f"{story.BANDS * story.BAND_ROWS} values, then the sketch): precision "
        f"{found / sum(said):.4f}, recall {found / positives:.4f}"
    )
    scores = {True: [], False: []}  # type: dict[bool, list[float]]
    for a, b, same in keyed:
        if a.url != b.url:
            scores[same].append(story.similarity(a.sketch, b.sketch))
    print(
        f"text similarity, same story (other link): min {min(scores[True]):.2f} "
        f"median {statistics.median(scores[True]):.2f}; different stories: max "
        f"{max(scores[False]):.2f} median {statistics.median(scores[False]):.2f}"
    )


class CountingGate:
    """The bot's story gate, counting the candidates the index hands it to compare."""

    compared = 0

    def key(self, item: ItemText) -> story.StoryKey:
        return story.STORY_MATCHER.key(item)

    def same(self, new: story.StoryKey, earlier: story.StoryKey) -> bool:
        self.compared += 1
        return story.STORY_MATCHER.same(new, earlier)


async def cost(archive: int, new: int, seed: int, *, topical: bool) -> None:
    """`topical`: every story of the archive and the new items is one of the labelled set's
    eight topics, written with its stock phrases (the worst case: an eighth of the window is
    the new item's topic); else distinct stories."""
    rng = random.Random(seed)

    def generate(n: int) -> Doc:
        return make_story(rng, n % len(TOPICS), n) if topical else distinct_story(rng, n)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = await Store.open(path)
        await store.close()
        now = time.time()
        channel, feeds = 1000, 50
        started = time.perf_counter()
        with sqlite3.connect(path) as conn:
            conn.executemany(
                "INSERT INTO feeds (id, url, title, interval_s, next_poll_at, created_at) "
                "VALUES (?, ?, ?, 900, ?, ?)",
                [(f, f"https://f{f}.example/feed", f"F{f}", now, now) for f in range(1, feeds + 1)],
            )
            conn.executemany(
                "INSERT INTO subscriptions (id, guild_id, channel_id, feed_id, created_at) "
                "VALUES (?, 1, ?, ?, ?)",
                [(f, channel, f, now) for f in range(1, feeds + 1)],
            )
            rows = []
            deliveries = []
            marked = []
            for i in range(1, archive + 1):
                doc = generate(i)
                key = doc.key()
                at = now - rng.uniform(0, 365 * 86400)
                rows.append(
                    (i, 1 + i % feeds, f"s{i}", f"r{i}", f"c{i}", doc.url, doc.title, at, at,
                     doc.text, doc.text, key.url, key.sketch)
                )  # fmt: skip
                deliveries.append((i, f"item:{i}:ch:{channel}", i, 1 + i % feeds, channel, at, at))
                marked += [(band, at, i) for band in key.bands]
            conn.executemany(
                "INSERT INTO items (id, feed_id, stable_id, raw_hash, content_hash, url, title, "
                "published_at, first_seen_at, content_text, summary, story_url, story_sketch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO deliveries (id, dedupe_key, kind, item_id, subscription_id, "
                "guild_id, target_kind, target_id, state, next_attempt_at, created_at) "
                "VALUES (?, ?, 'item', ?, ?, 1, 'channel', ?, 'sent', ?, ?)",
                deliveries,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO story_bands (band, seen_at, item_id) VALUES (?, ?, ?)",
                marked,
            )
            window = conn.execute(
                "SELECT count(*) FROM deliveries WHERE target_id = ? AND created_at >= ?",
                (channel, now - 72 * 3600),
            ).fetchone()[0]
            fresh = []
            for j in range(2 * new):
                doc = generate(archive + j)
                fresh.append(
                    (archive + 1 + j, 1, f"n{j}", "r", "c", doc.url, doc.title, now, now, doc.text,
                     doc.text)
                )  # fmt: skip
            conn.executemany(
                "INSERT INTO items (id, feed_id, stable_id, raw_hash, content_hash, url, title, "
                "published_at, first_seen_at, content_text, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                fresh,
            )
        print(
            f"{'topical' if topical else 'distinct'} archive: {archive:,} items, every one "
            f"posted in one channel; {window:,} posts in its 72-hour window (built in "
            f"{time.perf_counter() - started:.0f} s)"
        )
        store = await Store.open(path)
        try:
            timings: dict[str, list[float]] = {"without": [], "with": []}
            ids = [archive + 1 + j for j in range(2 * new)]
            counting = CountingGate()
            for j, item_id in enumerate(ids):
                gate = counting if j % 2 else None
                t0 = time.perf_counter()
                async with store.db.transaction() as tx:
                    await route_new_items(tx, 1, [item_id], now, None, gate)
                timings["with" if gate else "without"].append(time.perf_counter() - t0)
        finally:
            await store.close()
    without = statistics.median(timings["without"]) * 1000
    with_gate = statistics.median(timings["with"]) * 1000
    print(
        f"route one new item, median of {new}: without merging {without:.3f} ms, "
        f"with {with_gate:.3f} ms"
    )
    print(f"merging's cost per new item: {with_gate - without:.3f} ms (target <= 1 ms)")
    print(
        f"candidates compared per new item (found through the index): mean "
        f"{counting.compared / new:.1f}"
    )
    t0 = time.perf_counter()
    for j in range(1000):
        generate(j).key()
    print(
        f"story key of one item (generate + key, pure Python): {(time.perf_counter() - t0):.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=int, default=200_000)
    parser.add_argument("--new", type=int, default=200)
    parser.add_argument("--per-topic", type=int, default=60)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    quality(labelled_pairs(args.seed, args.per_topic))
    for topical in (False, True):
        asyncio.run(cost(args.archive, args.new, args.seed, topical=topical))


if __name__ == "__main__":
    main()
