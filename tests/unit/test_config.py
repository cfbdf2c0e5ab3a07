"""Settings: parsed from the environment and a TOML file, validated with the setting named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import ConfigError, Settings, load_settings


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("45", 45)]
)
def test_durations(text: str, seconds: float) -> None:
    assert load_settings({"DIGESTBOT_POLL_INTERVAL": text}).poll_interval_s == seconds


def test_defaults_without_anything() -> None:
    settings = load_settings({})
    assert settings.discord_token is None
    assert settings.poll_interval_s == 900
    assert str(settings.db_path) == "digestbot.db"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DIGESTBOT_POLL_INTERVAL", "banana", "'banana' is not a duration such as 30s, 15m or 6h"),
        ("DIGESTBOT_POLL_INTERVAL", "0s", "must be at least 0.001s, got '0s'"),
        ("DIGESTBOT_FETCH_ALLOW", "not a host!", "'not a host!' is neither a host name nor a CIDR"),
        ("DIGESTBOT_LOG_LEVEL", "loud", "'LOUD' is not DEBUG, INFO, WARNING or ERROR"),
        ("DIGESTBOT_LOG_FORMAT", "XML", "'xml' is not text or json"),
        ("DIGESTBOT_LLM_BASE_URL", "ftp://x", "'ftp://x' must start with http:// or https://"),
        ("DIGESTBOT_LLM_CALLS_PER_HOUR", "-3", "must be at least 0, got -3"),
        ("DIGESTBOT_LLM_INPUT_CHARS", "100", "must be at least 200, got 100"),
        ("DIGESTBOT_HEALTH_PORT", "http", "'http' is not a whole number"),
        ("DIGESTBOT_RETENTION_DAYS", "1.5", "'1.5' is not a whole number"),
    ],
)
def test_bad_values_give_one_line_naming_the_setting(name: str, value: str, expected: str) -> None:
    """The operator sees exactly `NAME: what is expected`, never a validation dump."""
    env = {name: value, "DIGESTBOT_LLM_MODEL": "m"} if "BASE_URL" in name else {name: value}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value) == f"{name}: {expected}"


def test_llm_needs_both_url_and_model() -> None:
    with pytest.raises(ConfigError, match="DIGESTBOT_LLM_MODEL"):
        load_settings({"DIGESTBOT_LLM_BASE_URL": "http://127.0.0.1:11434/v1"})


def test_toml_file_and_environment_precedence(tmp_path: Path) -> None:
    config = tmp_path / "digestbot.toml"
    config.write_text('poll_interval = "5m"\nDIGESTBOT_LOG_LEVEL = "debug"\n', encoding="utf-8")
    settings = load_settings({"DIGESTBOT_CONFIG": str(config), "DIGESTBOT_LOG_LEVEL": "WARNING"})
    assert settings.poll_interval_s == 300
    assert settings.log_level == "WARNING"
    config.write_text("this is = not toml [", encoding="utf-8")
    with pytest.raises(ConfigError, match="DIGESTBOT_CONFIG"):
        load_settings({"DIGESTBOT_CONFIG": str(config)})


def test_secrets_never_appear_in_repr() -> None:
    settings = load_settings({"DISCORD_TOKEN": "tok-123", "DIGESTBOT_LLM_API_KEY": "sk-456"})
    assert settings.discord_token == "tok-123"
    assert "tok-123" not in repr(settings) and "sk-456" not in repr(settings)


def test_fetch_allow_hosts_and_networks() -> None:
    allow = load_settings(
        {"DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32, feeds.internal, ::1"}
    ).fetch_allow
    assert allow.allows_host("FEEDS.internal.")
    import ipaddress

    assert allow.allows_address(ipaddress.ip_address("127.0.0.1"))
    assert allow.allows_address(ipaddress.ip_address("::1"))
    assert not allow.allows_address(ipaddress.ip_address("127.0.0.2"))


def test_file_keys_in_every_spelling_and_blank_means_unset(tmp_path: Path) -> None:
    config = tmp_path / "digestbot.toml"
    config.write_text(
        'DIGESTBOT_FETCH_TIMEOUT = "5s"\n'
        'digestbot_log_format = "json"\n'
        "POLL_CONCURRENCY = 8\n"
        "retention_days = 30\n"
        'discord_token = "from-file"\n'
        'Poll_Interval = "1m"\n'  # mixed case is no spelling of a setting: ignored
        'DIGESTBOT_COLOUR = "blue"\n',  # names no setting: ignored
        encoding="utf-8",
    )
    settings = load_settings(
        {"DIGESTBOT_CONFIG": str(config), "DISCORD_TOKEN": "", "DIGESTBOT_DB": " "}
    )
    assert (settings.fetch_timeout_s, settings.log_format) == (5, "json")
    assert (settings.poll_concurrency, settings.retention_days) == (8, 30)
    assert settings.poll_interval_s == 900
    assert str(settings.db_path) == "digestbot.db"
    # The shipped env file has `DISCORD_TOKEN=`: blank is unset, so the file's token applies.
    assert settings.discord_token == "from-file"


def test_settings_built_in_code_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build Settings(...) directly; an operator's exported variables must not leak in."""
    monkeypatch.setenv("DISCORD_TOKEN", "exported")
    monkeypatch.setenv("DIGESTBOT_POLL_INTERVAL", "5s")
    settings = Settings(poll_interval_s=60)
    assert settings.discord_token is None
    assert settings.poll_interval_s == 60
    assert load_settings().poll_interval_s == 5


def test_settings_are_immutable_and_reject_unknown_fields() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.poll_interval_s = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="poll_interval"):
        Settings(poll_interval=1)  # type: ignore[call-arg]


def _documented_names(text: str) -> set[str]:
    return set(re.findall(r"\b(?:DIGESTBOT_[A-Z_]*[A-Z]|DISCORD_TOKEN)\b", text))


def test_every_setting_is_declared_once_and_documented() -> None:
    """Each operator setting has a description, a README row and an entry in the env example;
    neither document names a setting the code does not have."""
    root = Path(__file__).resolve().parents[2]
    declared = {
        field.validation_alias: field.description
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    }
    assert all(declared.values()), "a setting without a description"
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    example = (root / "deploy" / "digestbot.env.example").read_text(encoding="utf-8")
    for document in (table, example):
        assert _documented_names(document) == set(declared) | {"DIGESTBOT_CONFIG"}
