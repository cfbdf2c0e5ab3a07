"""Logging, configured once for the whole process: readable text or one JSON object per line.

Code that logs about a feed, guild or item passes the ids as extras so both formats carry them:

    log.info("feed polled", extra={"feed_id": feed.id})
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings

# The extras every format shows when a record carries them, in this order.
CONTEXT_FIELDS = (
    "feed_id",
    "guild_id",
    "channel_id",
    "item_id",
    "delivery_id",
    "user_id",
)

# Chatty libraries: their INFO is noise for an operator.
_QUIET_LOGGERS = {
    "discord.http": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "apscheduler": logging.WARNING,  # a line per job run (the digest tick runs every 30 s)
    # Its DEBUG lines show webhook URLs, and a webhook's token is a secret: never logged.
    "discord.webhook.async_": logging.INFO,
}

_HANDLER_NAME = "digestbot"


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: getattr(record, name)
        for name in CONTEXT_FIELDS
        if getattr(record, name, None) is not None
    }


def _one_line(text: str) -> str:
    """Third-party text (feed titles…) may hold line breaks: one event stays one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """`2024-05-01T12:00:00.000Z INFO bot.ingest: message feed_id=3 item_id=9`, one line per
    event (a traceback, when there is one, follows on its own lines)."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )

    def formatMessage(self, record: logging.LogRecord) -> str:
        context = "".join(f" {key}={value}" for key, value in _context(record).items())
        return _one_line(super().formatMessage(record)) + context


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context ids, and `exc`
    (the traceback as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_context(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(settings: Settings, *, file: Path | None = None) -> None:
    """Install the one root handler (stderr, or appended to `file`) in the format and level the
    settings ask for. Calling it again replaces the handler instead of adding a second one."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
            old.close()
    handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, logging.getLevelName(settings.log_level)))
    logging.captureWarnings(True)
