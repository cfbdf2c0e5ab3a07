"""A generated archive with known topic clusters, for the related-items tests and bench.

Each topic has its own vocabulary (names, things, events); every item also carries common
filler words shared by all topics and a few words of another topic, so a topic is told apart by
its distinctive words, not by any one word. Seeded: the same archive every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests.integration.search_fixtures import FreshItem, make_item

TOPICS = {
    "rust": "rustc borrowck cargo crates ferris lifetimes clippy rustup tokio traits",
    "space": "artemis lunar orbiter nasa booster spacex starship payload apogee launchpad",
    "coffee": "espresso arabica roaster barista crema grinder pourover robusta latte brew",
    "chess": "gambit carlsen endgame sicilian grandmaster checkmate rook bishop fide blitz",
    "climate": "emissions glacier carbon warming ipcc heatwave methane permafrost drought cop",
    "football": "premier striker offside goalkeeper penalty transfer midfielder derby var league",
    "vinyl": "turntable stylus pressing discogs lp cartridge phono tonearm reissue gatefold",
    "bees": "apiary hive honeycomb queen pollen beekeeper varroa nectar swarm drone",
}
_FILLER = (
    "people report story week update latest news today team plan work show time year look "
    "start early big small open close point part group case state world life hand place "
    "issue side kind head house service friend power hour game line end member law car city "
    "community name president team minute idea kid body information back parent face others"
)
FILLER = _FILLER.split()
OUTLIER = "quokka zeppelin marimba origami saffron tundra kayak falconry topiary yodel"


@dataclass(frozen=True, slots=True)
class Generated:
    topic: str
    item: FreshItem


def topic_item(rng: random.Random, topic: str, key: str, published: float) -> FreshItem:
    words = TOPICS[topic].split()
    other = TOPICS[rng.choice([t for t in TOPICS if t != topic])].split()
    title = " ".join(rng.sample(words, 3) + rng.sample(FILLER, 3))
    body = rng.choices(words, k=12) + rng.choices(FILLER, k=40) + rng.sample(other, 2)
    rng.shuffle(body)
    return make_item(key, title.title(), " ".join(body), published=published)


def outlier_item(rng: random.Random, key: str, published: float) -> FreshItem:
    """An item about nothing the archive knows: filler and two words of one topic in common."""
    title = " ".join(rng.sample(OUTLIER.split(), 3) + rng.sample(FILLER, 3))
    body = rng.choices(OUTLIER.split(), k=12) + rng.choices(FILLER, k=40)
    body += rng.sample(TOPICS["chess"].split(), 2)
    rng.shuffle(body)
    return make_item(key, title.title(), " ".join(body), published=published)


def archive(rng: random.Random, per_topic: int, start: float, step: float) -> list[Generated]:
    """`per_topic` items of every topic, interleaved, published `step` seconds apart."""
    out: list[Generated] = []
    for n in range(per_topic):
        for topic in TOPICS:
            key = f"{topic}-{n}"
            out.append(Generated(topic, topic_item(rng, topic, key, start + len(out) * step)))
    return out
