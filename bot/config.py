"""Settings: environment variables (DIGESTBOT_*, DISCORD_TOKEN) and an optional TOML file.

Each setting is one field of `Settings`: name, type, default, the operator's name for it (its
`validation_alias`) and what it means. The TOML file named by DIGESTBOT_CONFIG may hold the same
keys (any case, DIGESTBOT_ prefix optional); the environment wins. A blank value is unset; keys
that name no setting are ignored.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A setting has a bad value; the message names the setting and what is expected."""


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


_SHARD_LIST = re.compile(r"^\s*(\d+(?:\s*,\s*\d+)*)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """The gateway shards this process runs (DIGESTBOT_SHARDS): `auto` (the default) every shard
    Discord recommends, `0,1/4` shards 0 and 1 of 4 (`ids`, `count`), `none` no gateway at all."""

    ids: tuple[int, ...] = ()
    count: int | None = None
    gateway: bool = True

    @classmethod
    def parse(cls, text: str) -> ShardPlan:
        word = text.strip().lower()
        if word == "auto":
            return cls()
        if word == "none":
            return cls(gateway=False)
        match = _SHARD_LIST.match(word)
        if not match:
            raise ValueError(
                f"{text.strip()!r} is not auto, none, or shards of a count such as 0,1/4"
            )
        ids = tuple(int(part) for part in match.group(1).split(","))
        count = int(match.group(2))
        if count < 1:
            raise ValueError(f"{text.strip()!r}: the shard count must be at least 1")
        for shard in ids:
            if shard >= count:
                raise ValueError(
                    f"{text.strip()!r}: shard {shard} is not below the count {count} "
                    f"(shards are numbered 0 to {count - 1})"
                )
            if ids.count(shard) > 1:
                raise ValueError(f"{text.strip()!r}: shard {shard} is listed twice")
        return cls(ids, count)


# Value parsers: each raises ValueError with what the operator sees after the setting's name.


def _from_text(parse: Callable[[str], object]) -> BeforeValidator:
    """Text goes through `parse`; a typed value from code passes as it is."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def _seconds(value: str) -> float:
    """`30s`, `15m`, `6h`, `1d`, `2w` or a bare number of seconds."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30s, 15m or 6h")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0.001:
        raise ValueError(f"must be at least 0.001s, got {value!r}")
    return seconds


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"{level!r} is not DEBUG, INFO, WARNING or ERROR")
    return level


def _log_format(value: str) -> str:
    if value.lower() not in ("text", "json"):
        raise ValueError(f"{value.lower()!r} is not text or json")
    return value.lower()


def _language_tag(value: str) -> str:
    tag = value.strip().replace("_", "-")
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", tag):
        raise ValueError(f"{value!r} is not a language such as en or ja")
    return tag


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://", value):
        raise ValueError(f"{value!r} must start with http:// or https://")
    return value


Seconds = Annotated[float, _from_text(_seconds)]
# What the operator sees for pydantic's own checks (whole numbers and their minimums).
_PYDANTIC_MESSAGES = {
    "int_parsing": "{input!r} is not a whole number",
    "int_from_float": "{input!r} is not a whole number",
    "greater_than_equal": "must be at least {ge}, got {input}",
}


class Settings(BaseModel):
    """Everything the operator can set, built once in main() and passed down.
    `Settings(field=value, ...)` (tests, benchmarks) takes typed values or text and reads nothing
    else; `load_settings` reads the operator's environment and file. A field without a
    `validation_alias` is not an operator setting."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )

    discord_token: str | None = Field(
        None,
        validation_alias="DISCORD_TOKEN",
        repr=False,
        description="the bot token; absent → console mode",
    )
    db_path: Path = Field(
        Path("./digestbot.db"),
        validation_alias="DIGESTBOT_DB",
        description="the SQLite file, or a postgresql:// URL",
    )
    # DIGESTBOT_DB when it is a postgresql:// URL (it may hold a password: never shown).
    db_url: str | None = Field(None, repr=False)
    poll_interval_s: Seconds = Field(
        900.0,
        validation_alias="DIGESTBOT_POLL_INTERVAL",
        description="default poll interval of a feed",
    )
    fetch_allow: Annotated[FetchAllowList, _from_text(FetchAllowList.parse)] = Field(
        FetchAllowList(),
        validation_alias="DIGESTBOT_FETCH_ALLOW",
        description="comma-separated hosts or CIDRs that may be fetched although private",
    )
    fetch_timeout_s: Seconds = Field(
        20.0, validation_alias="DIGESTBOT_FETCH_TIMEOUT", description="time cap of one fetch"
    )
    fetch_max_bytes: int = Field(10 * 1024 * 1024, description="size cap of one fetch")
    fetch_max_redirects: int = Field(5, description="redirect cap of one fetch")
    poll_concurrency: Annotated[int, Field(ge=1)] = Field(
        16, validation_alias="DIGESTBOT_POLL_CONCURRENCY", description="feeds fetched at once"
    )
    poll_per_host: int = Field(2, description="feeds of one host fetched at once")
    log_level: Annotated[str, AfterValidator(_log_level)] = Field(
        "INFO", validation_alias="DIGESTBOT_LOG_LEVEL", description="DEBUG, INFO, WARNING, ERROR"
    )
    log_format: Annotated[str, AfterValidator(_log_format)] = Field(
        "text", validation_alias="DIGESTBOT_LOG_FORMAT", description="text, or json lines"
    )
    llm_base_url: Annotated[str | None, AfterValidator(_http_url)] = Field(
        None,
        validation_alias="DIGESTBOT_LLM_BASE_URL",
        description="OpenAI-compatible API for AI summaries (with DIGESTBOT_LLM_MODEL)",
    )
    llm_model: str | None = Field(
        None, validation_alias="DIGESTBOT_LLM_MODEL", description="model for AI summaries"
    )
    llm_api_key: str | None = Field(
        None,
        validation_alias="DIGESTBOT_LLM_API_KEY",
        repr=False,
        description="API key of the summarizer; never logged",
    )
    llm_timeout_s: Seconds = Field(
        20.0,
        validation_alias="DIGESTBOT_LLM_TIMEOUT",
        description="an item waits at most this long for its AI summary",
    )
    llm_calls_per_hour: Annotated[int, Field(ge=0)] = Field(
        120,
        validation_alias="DIGESTBOT_LLM_CALLS_PER_HOUR",
        description="cap on summary calls per hour (0: none at all)",
    )
    llm_concurrency: Annotated[int, Field(ge=1)] = Field(
        2, validation_alias="DIGESTBOT_LLM_CONCURRENCY", description="summary calls at once"
    )
    llm_input_chars: Annotated[int, Field(ge=200)] = Field(
        6000,
        validation_alias="DIGESTBOT_LLM_INPUT_CHARS",
        description="how much of the article the model reads",
    )
    llm_language: str = Field(
        "item",
        validation_alias="DIGESTBOT_LLM_LANGUAGE",
        description="`item` (the item's own language) or a language such as `en`",
    )
    locale: Annotated[str, AfterValidator(_language_tag)] = Field(
        "en",
        validation_alias="DIGESTBOT_LOCALE",
        description="console and CLI language (en or ja), and channels' when Discord says none",
    )
    health_port: Annotated[int | None, Field(ge=1)] = Field(
        None,
        validation_alias="DIGESTBOT_HEALTH_PORT",
        description="serve /healthz and /metrics on 127.0.0.1:PORT (default: off)",
    )
    shards: Annotated[ShardPlan, _from_text(ShardPlan.parse)] = Field(
        ShardPlan(),
        validation_alias="DIGESTBOT_SHARDS",
        description="gateway shards this process runs: auto (all), e.g. 0,1/4, or none "
        "(a worker that polls and delivers over REST only)",
    )
    feed_lease_s: Annotated[Seconds, Field(gt=0)] = Field(
        60.0,
        validation_alias="DIGESTBOT_FEED_LEASE",
        description="with PostgreSQL: how long a feed being polled by a process that died "
        "waits before another process polls it",
    )
    delivery_lease_s: Annotated[Seconds, Field(gt=0)] = Field(
        30.0,
        validation_alias="DIGESTBOT_DELIVERY_LEASE",
        description="with PostgreSQL: how long a dead process's send in flight holds its "
        "channel before another process takes it over",
    )
    retention_days: Annotated[int | None, Field(ge=1)] = Field(
        None,
        validation_alias="DIGESTBOT_RETENTION_DAYS",
        description="prune items older than this (default: keep forever)",
    )

    @model_validator(mode="before")
    @classmethod
    def _database_url(cls, values: object) -> object:
        """DIGESTBOT_DB=postgresql://… names a PostgreSQL database, not a file."""
        if isinstance(values, Mapping):
            for key in ("db_path", "DIGESTBOT_DB"):
                given = values.get(key)
                if isinstance(given, str) and given.startswith(("postgresql://", "postgres://")):
                    return {**{k: v for k, v in values.items() if k != key}, "db_url": given}
        return values

    @property
    def database(self) -> Path | str:
        """What the store opens: the PostgreSQL URL, else the SQLite file."""
        return self.db_url or self.db_path


def operator_name(field: FieldInfo) -> str | None:
    """The name an operator sets this field by (DIGESTBOT_…, DISCORD_TOKEN), or None."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else None


def _named_values(values: Mapping[str, object], *, loose: bool) -> dict[str, str]:
    """The text under each setting's operator name: exact in the environment; the file
    (`loose`) also takes it in lower case and without DIGESTBOT_. Values stay text (the file's
    numbers too), so both places parse the same way; a blank value is no value."""
    found: dict[str, str] = {}
    for field_name, field in Settings.model_fields.items():
        name = operator_name(field)
        if name is None:
            continue
        short = name.removeprefix("DIGESTBOT_")
        keys = [name, name.lower(), short, short.lower()] if loose else [name]
        text = next((str(values[key]) for key in keys if key in values), "")
        if text.strip():
            found[field_name] = text
    return found


def _read_file(path: str) -> dict[str, object]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"DIGESTBOT_CONFIG: cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"DIGESTBOT_CONFIG: {path} is not valid TOML: {exc}") from exc


def _one_line(error: ValidationError) -> str:
    """The first problem as `SETTING: what is expected` (never pydantic's multi-line dump)."""
    first = error.errors(include_url=False)[0]
    ctx = first.get("ctx", {})
    template = _PYDANTIC_MESSAGES.get(first["type"])
    if isinstance(ctx.get("error"), Exception):
        message = str(ctx["error"])
    elif template is not None:
        message = template.format(input=first["input"], **ctx)
    else:
        message = first["msg"]
    name = str(first["loc"][0])  # load_settings hands over known fields only
    return f"{operator_name(Settings.model_fields[name]) or name}: {message}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    config_path = env.get("DIGESTBOT_CONFIG")
    file_values = _read_file(config_path) if config_path else {}
    values = {**_named_values(file_values, loose=True), **_named_values(env, loose=False)}
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    # Checked here, not in Settings: tests build half-set LLM settings to prove they stay off.
    if (settings.llm_base_url is None) != (settings.llm_model is None):
        raise ConfigError(
            "DIGESTBOT_LLM_BASE_URL and DIGESTBOT_LLM_MODEL: set both to enable AI summaries, "
            "or neither"
        )
    return settings
