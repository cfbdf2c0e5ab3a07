"""DIGESTBOT_SHARDS as the operator writes it, read into the plan the bot runs."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, ShardPlan, load_settings


@pytest.mark.parametrize(
    ("text", "ids", "count", "gateway"),
    [
        ("auto", (), None, True),
        (" AUTO ", (), None, True),
        ("none", (), None, False),
        ("0,1/4", (0, 1), 4, True),
        (" 3 , 1 / 4 ", (3, 1), 4, True),
        ("0/1", (0,), 1, True),
    ],
)
def test_a_shard_setting_reads_as_written(
    text: str, ids: tuple[int, ...], count: int | None, gateway: bool
) -> None:
    plan = load_settings({"DIGESTBOT_SHARDS": text}).shards
    assert (plan.ids, plan.count, plan.gateway) == (ids, count, gateway)


def test_unset_means_every_shard_in_this_process() -> None:
    assert load_settings({}).shards == ShardPlan()


@pytest.mark.parametrize("text", ["4/4", "1/0", "a/b", "0,0/2", "-1/2", "0,1", "1/2/3", "some"])
def test_a_shard_setting_that_names_no_valid_shards_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^DIGESTBOT_SHARDS: "):
        load_settings({"DIGESTBOT_SHARDS": text})
