"""Settings: parsed from the environment and a TOML file, validated with the setting named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("45", 45)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_defaults_without_anything() -> None:
    settings = load_settings({})
    assert settings.discord_token is None
    assert settings.poll_interval_s == 900
    assert str(settings.db_path) == "digestbot.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DIGESTBOT_POLL_INTERVAL", "banana"),
        ("DIGESTBOT_FETCH_ALLOW", "not a host!"),
        ("DIGESTBOT_LOG_LEVEL", "LOUD"),
        ("DIGESTBOT_LLM_BASE_URL", "ftp://x"),
        ("DIGESTBOT_LLM_CALLS_PER_HOUR", "-3"),
        ("DIGESTBOT_HEALTH_PORT", "http"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


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
