"""Settings: environment variables (DIGESTBOT_*, DISCORD_TOKEN) and an optional TOML file.

Each setting is declared once, as a field of `Settings`: its attribute name, type, default,
the operator's name for it (the field's `validation_alias`) and what it means. The TOML file
named by DIGESTBOT_CONFIG may hold the same keys (upper or lower case, with or without the
DIGESTBOT_ prefix); the environment wins over the file. A blank value counts as unset. Keys
that name no setting are ignored, in the environment and in the file.
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
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PREFIX = "DIGESTBOT_"


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


# --- value parsers: text from the environment or the file, or typed values from code ----------
# Each raises ValueError with the message the operator sees after the setting's name.


def _seconds(value: object) -> object:
    if isinstance(value, str):
        seconds = parse_duration(value)
        if seconds < 0.001:
            raise ValueError(f"must be at least 0.001s, got {value!r}")
        return seconds
    return value


def _whole_number(minimum: int) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a whole number") from None
        if isinstance(value, int) and value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return check


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"{level!r} is not DEBUG, INFO, WARNING or ERROR")
    return level


def _log_format(value: str) -> str:
    if value.lower() not in ("text", "json"):
        raise ValueError(f"{value.lower()!r} is not text or json")
    return value.lower()


def _allow_list(value: object) -> object:
    return FetchAllowList.parse(value) if isinstance(value, str) else value


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://", value):
        raise ValueError(f"{value!r} must start with http:// or https://")
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


def at_least(minimum: int) -> Any:
    """Annotation for a whole number of at least `minimum`, given as an int or as text."""
    return BeforeValidator(_whole_number(minimum))


class Settings(BaseSettings):
    """Everything the operator can set. Built once in main() and passed down.

    `Settings(field=value, ...)` takes typed values (and text, parsed as below) and reads
    nothing else: tests and benchmarks build it that way. `load_settings` reads the operator's
    environment and file. A field without a `validation_alias` is not an operator setting.
    """

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )

    discord_token: str | None = Field(
        None,
        validation_alias="DISCORD_TOKEN",
        repr=False,
        description="the bot token; absent → console mode",
    )
    db_path: Path = Field(
        Path("./digestbot.db"), validation_alias="DIGESTBOT_DB", description="the SQLite file"
    )
    poll_interval_s: Seconds = Field(
        900.0,
        validation_alias="DIGESTBOT_POLL_INTERVAL",
        description="default poll interval of a feed",
    )
    fetch_allow: Annotated[FetchAllowList, BeforeValidator(_allow_list)] = Field(
        FetchAllowList(),
        validation_alias="DIGESTBOT_FETCH_ALLOW",
        description="comma-separated hosts or CIDRs that may be fetched although private",
    )
    fetch_timeout_s: Seconds = Field(
        20.0, validation_alias="DIGESTBOT_FETCH_TIMEOUT", description="time cap of one fetch"
    )
    fetch_max_bytes: int = Field(10 * 1024 * 1024, description="size cap of one fetch")
    fetch_max_redirects: int = Field(5, description="redirect cap of one fetch")
    poll_concurrency: Annotated[int, at_least(1)] = Field(
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
    llm_calls_per_hour: Annotated[int, at_least(0)] = Field(
        120,
        validation_alias="DIGESTBOT_LLM_CALLS_PER_HOUR",
        description="cap on summary calls per hour (0: none at all)",
    )
    llm_concurrency: Annotated[int, at_least(1)] = Field(
        2, validation_alias="DIGESTBOT_LLM_CONCURRENCY", description="summary calls at once"
    )
    llm_input_chars: Annotated[int, at_least(200)] = Field(
        6000,
        validation_alias="DIGESTBOT_LLM_INPUT_CHARS",
        description="how much of the article the model reads",
    )
    llm_language: str = Field(
        "item",
        validation_alias="DIGESTBOT_LLM_LANGUAGE",
        description="`item` (the item's own language) or a language such as `en`",
    )
    health_port: Annotated[int | None, at_least(1)] = Field(
        None,
        validation_alias="DIGESTBOT_HEALTH_PORT",
        description="serve /healthz and /metrics on 127.0.0.1:PORT (default: off)",
    )
    retention_days: Annotated[int | None, at_least(1)] = Field(
        None,
        validation_alias="DIGESTBOT_RETENTION_DAYS",
        description="prune items older than this (default: keep forever)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments only: the process environment is read by `load_settings` alone."""
        return (init_settings,)


def operator_name(field: FieldInfo) -> str | None:
    """The name an operator sets this field by (DIGESTBOT_…, DISCORD_TOKEN), or None."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else None


class NamedValues(PydanticBaseSettingsSource):
    """The text found under each setting's operator name in the environment or the file.

    The environment is read by exact name; the file also accepts the lower-case name and the
    name without the DIGESTBOT_ prefix. Values are handed on as text (the file's numbers too),
    so both places parse the same way; a blank value is no value.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], values: Mapping[str, object], *, loose: bool
    ) -> None:
        super().__init__(settings_cls)
        self._values = values
        self._loose = loose

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = operator_name(field)
        if name is None:
            return None, field_name, False
        keys = [name]
        if self._loose:
            short = name.removeprefix(PREFIX)
            keys += [name.lower(), short, short.lower()]
        for key in keys:
            if key in self._values:
                text = str(self._values[key])
                return (text if text.strip() else None), field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[key] = value
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
    first = error.errors(include_url=False, include_input=False)[0]
    cause = first.get("ctx", {}).get("error")
    message = str(cause) if isinstance(cause, Exception) else first["msg"]
    name = str(first["loc"][0])  # load_settings hands over known fields only
    return f"{operator_name(Settings.model_fields[name]) or name}: {message}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    config_path = env.get("DIGESTBOT_CONFIG")
    file_values = _read_file(config_path) if config_path else {}
    values = {
        **NamedValues(Settings, file_values, loose=True)(),
        **NamedValues(Settings, env, loose=False)(),
    }
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    # Checked here, not in Settings: tests build half-set LLM settings to prove they stay off.
    if (settings.llm_base_url is None) != (settings.llm_model is None):
        raise ConfigError(
            "DIGESTBOT_LLM_BASE_URL and DIGESTBOT_LLM_MODEL: set both to enable AI summaries, "
            "or neither"
        )
    return settings
