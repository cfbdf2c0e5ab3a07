"""Logging: one JSON object per line with the context ids, one text line per event,
discord.http quiet, configured once."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.ops.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    http_level = logging.getLogger("discord.http").level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.getLogger("discord.http").setLevel(http_level)


def test_json_logs_are_one_object_per_line_with_the_extra_ids(
    restore_logging: None, tmp_path: Path
) -> None:
    file = tmp_path / "bot.log"
    configure_logging(Settings(log_format="json", log_level="INFO"), file=file)
    log = logging.getLogger("bot.test")
    log.info("feed %s polled", "Alpha", extra={"feed_id": 3, "guild_id": 42, "item_id": 9})
    log.warning('hostile "title"\nwith a line break', extra={"feed_id": 4})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed", extra={"item_id": 7})
    log.debug("not shown at INFO")
    lines = file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert records[0] == {
        "time": records[0]["time"],
        "level": "INFO",
        "logger": "bot.test",
        "message": "feed Alpha polled",
        "feed_id": 3,
        "guild_id": 42,
        "item_id": 9,
    }
    assert records[0]["time"].endswith("+00:00")
    assert records[1]["message"] == 'hostile "title"\nwith a line break'
    assert records[1]["feed_id"] == 4 and "guild_id" not in records[1]
    assert records[2]["level"] == "ERROR" and records[2]["item_id"] == 7
    assert "ValueError: boom" in records[2]["exc"]


def test_text_logs_keep_one_line_per_event_and_show_ids(
    restore_logging: None, tmp_path: Path
) -> None:
    file = tmp_path / "bot.log"
    configure_logging(Settings(log_format="text", log_level="DEBUG"), file=file)
    logging.getLogger("bot.x").info("line one\nfake second line", extra={"guild_id": 5})
    lines = file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("INFO bot.x: line one\\nfake second line guild_id=5")


def test_configuring_twice_keeps_one_handler_and_discord_http_is_quiet(
    restore_logging: None, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    configure_logging(Settings(log_format="text", log_level="DEBUG"), file=first)
    configure_logging(Settings(log_format="json", log_level="DEBUG"), file=second)
    logging.getLogger("discord.http").info("rate limit bucket chatter")
    logging.getLogger("discord.http").warning("429 hit")
    logging.getLogger("bot").debug("debug shown")
    assert first.read_text(encoding="utf-8") == ""
    messages = [json.loads(line)["message"] for line in second.read_text().splitlines()]
    assert messages == ["429 hit", "debug shown"]
