"""Settings: environment variables (DIGESTBOT_*, DISCORD_TOKEN) and an optional TOML file.

The TOML file named by DIGESTBOT_CONFIG may hold the same keys (upper or lower case, with or
without the DIGESTBOT_ prefix); the environment wins over the file.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A setting has a bad value; the message names the setting and what is expected."""


def parse_duration(text: str) -> float:
    """Parse `30s`, `15m`, `6h`, `1d`, `2w` or a bare number of seconds into seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m or 6h")
    value = float(match.group(1))
    return value * _UNIT_SECONDS[match.group(2) or "s"]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class FetchAllowList:
    """Hosts and networks the operator allows although they are private (tests: 127.0.0.1/32)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FetchAllowList:
        hosts: set[str] = set()
        networks: list[Network] = []
        for raw in text.split(","):
            part = raw.strip().lower()
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
            except ValueError:
                if not re.fullmatch(r"[a-z0-9.-]+", part):
                    raise ValueError(f"{raw.strip()!r} is neither a host name nor a CIDR") from None
                hosts.add(part.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the operator can set. Built once in main() and passed down."""

    discord_token: str | None = field(default=None, repr=False)
    db_path: Path = Path("./digestbot.db")
    poll_interval_s: float = 900.0
    fetch_allow: FetchAllowList = field(default_factory=FetchAllowList)
    fetch_timeout_s: float = 20.0
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_max_redirects: int = 5
    poll_concurrency: int = 16
    poll_per_host: int = 2
    log_level: str = "INFO"
    log_format: str = "text"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout_s: float = 20.0
    llm_calls_per_hour: int = 120
    llm_concurrency: int = 2
    llm_input_chars: int = 6000
    llm_language: str = "item"
    health_port: int | None = None
    retention_days: int | None = None


def _lookup(source: Mapping[str, object], name: str) -> object | None:
    short = name.removeprefix("DIGESTBOT_")
    for key in (name, name.lower(), short, short.lower()):
        if key in source:
            return source[key]
    return None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    file_values: dict[str, object] = {}
    config_path = env.get("DIGESTBOT_CONFIG")
    if config_path:
        try:
            file_values = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"DIGESTBOT_CONFIG: cannot read {config_path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"DIGESTBOT_CONFIG: {config_path} is not valid TOML: {exc}") from exc

    def raw(name: str) -> str | None:
        value = env.get(name)
        if value is None:
            found = _lookup(file_values, name)
            value = None if found is None else str(found)
        return value if value is None or value.strip() != "" else None

    def duration(name: str, default: float, minimum: float = 0.001) -> float:
        value = raw(name)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
        if seconds < minimum:
            raise ConfigError(f"{name}: must be at least {minimum:g}s, got {value!r}")
        return seconds

    def integer(name: str, default: int | None, minimum: int = 0) -> int | None:
        value = raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name}: {value!r} is not a whole number") from None
        if number < minimum:
            raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
        return number

    level = (raw("DIGESTBOT_LOG_LEVEL") or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"DIGESTBOT_LOG_LEVEL: {level!r} is not DEBUG, INFO, WARNING or ERROR")
    log_format = (raw("DIGESTBOT_LOG_FORMAT") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"DIGESTBOT_LOG_FORMAT: {log_format!r} is not text or json")
    try:
        allow = FetchAllowList.parse(raw("DIGESTBOT_FETCH_ALLOW") or "")
    except ValueError as exc:
        raise ConfigError(f"DIGESTBOT_FETCH_ALLOW: {exc}") from None
    base_url = raw("DIGESTBOT_LLM_BASE_URL")
    if base_url is not None and not re.match(r"^https?://", base_url):
        raise ConfigError(
            f"DIGESTBOT_LLM_BASE_URL: {base_url!r} must start with http:// or https://"
        )
    llm_model = raw("DIGESTBOT_LLM_MODEL")
    if (base_url is None) != (llm_model is None):
        raise ConfigError(
            "DIGESTBOT_LLM_BASE_URL and DIGESTBOT_LLM_MODEL: set both to enable AI summaries, "
            "or neither"
        )
    llm_language = raw("DIGESTBOT_LLM_LANGUAGE") or "item"
    return Settings(
        discord_token=raw("DISCORD_TOKEN"),
        db_path=Path(raw("DIGESTBOT_DB") or "./digestbot.db"),
        poll_interval_s=duration("DIGESTBOT_POLL_INTERVAL", 900.0),
        fetch_allow=allow,
        fetch_timeout_s=duration("DIGESTBOT_FETCH_TIMEOUT", 20.0),
        poll_concurrency=integer("DIGESTBOT_POLL_CONCURRENCY", 16, minimum=1) or 16,
        log_level=level,
        log_format=log_format,
        llm_base_url=base_url,
        llm_model=llm_model,
        llm_api_key=raw("DIGESTBOT_LLM_API_KEY"),
        llm_timeout_s=duration("DIGESTBOT_LLM_TIMEOUT", 20.0),
        llm_calls_per_hour=integer("DIGESTBOT_LLM_CALLS_PER_HOUR", 120) or 0,
        llm_concurrency=integer("DIGESTBOT_LLM_CONCURRENCY", 2, minimum=1) or 2,
        llm_input_chars=integer("DIGESTBOT_LLM_INPUT_CHARS", 6000, minimum=200) or 6000,
        llm_language=llm_language,
        health_port=integer("DIGESTBOT_HEALTH_PORT", None, minimum=1),
        retention_days=integer("DIGESTBOT_RETENTION_DAYS", None, minimum=1),
    )
