"""bot.safe.webhook_name: a feed's title (hostile text) or an admin's name becomes a name
Discord accepts for a webhook post (the fake Discord refuses the others, as Discord does)."""

from __future__ import annotations

import pytest

from bot.safe import WEBHOOK_NAME_MAX, webhook_name
from tests.fakediscord.webhooks import check_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Letter", "The Letter"),
        ("Discord Weekly", "Disc0rd Weekly"),
        ("CLYDE news from DISCORD", "C1YDE news from DISC0RD"),
        ("@everyone #1: news ```", "everyone 1 news"),
        ("  line\nbreak\u202e\tand tab  ", "line break and tab"),
        ("everyone", "Fallback"),
        ("@here", "Fallback"),
        ("", "Fallback"),
        ("\u200b\u200b", "Fallback"),
    ],
)
def test_names_discord_refuses_become_an_acceptable_variant(raw: str, expected: str) -> None:
    name = webhook_name(raw, "Fallback")
    assert name == expected
    check_name("username", name)  # the fake, like Discord, accepts it


def test_a_long_title_is_cut_at_a_word_within_the_limit() -> None:
    name = webhook_name("A very long newsletter title " * 10, "Fallback")
    assert len(name) <= WEBHOOK_NAME_MAX and name.endswith("…")
    check_name("username", name)
