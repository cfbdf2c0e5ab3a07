"""`digestbot run` as a process against the fake Discord: its exit codes are the operator's
contract (0 clean stop, 78 bad configuration with the reason printed; systemd's
RestartPreventExitStatus=78 stops a restart loop)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord

REPO = Path(__file__).resolve().parents[2]
# A deadline: a loaded 2-core machine starts Python, discord.py and Babel slowly.
EXIT_TIMEOUT_S = 30.0


def bot_env(fake: FakeDiscord, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = fake.subprocess_env()
    env.update(
        DIGESTBOT_DB=str(tmp_path / "bot.db"),
        DIGESTBOT_POLL_INTERVAL="1s",
        DIGESTBOT_FETCH_ALLOW="127.0.0.1/32",
        DIGESTBOT_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DIGESTBOT_CONFIG", None)
    env.update(overrides)
    return env


async def start_bot(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakediscord.launch",
        "bot",
        "run",
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the process to exit by itself; its code and everything it printed."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise AssertionError(f"the bot did not exit within {EXIT_TIMEOUT_S}s") from None
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def test_a_refused_token_exits_78_saying_so(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    process = await start_bot(bot_env(fake_discord, tmp_path, DISCORD_TOKEN="wrong-token"))
    code, output = await finish(process)
    assert code == 78, output
    assert "configuration error: DISCORD_TOKEN was refused by Discord" in output
    assert "Traceback" not in output
    assert fake_discord.gateway.kinds().count("identify") == 0


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("DIGESTBOT_POLL_INTERVAL", "banana"),
        ("DIGESTBOT_LOG_LEVEL", "LOUD"),
        ("DIGESTBOT_FETCH_ALLOW", "not a host!"),
    ],
)
async def test_a_bad_setting_exits_78_naming_it(
    tmp_path: Path, fake_discord: FakeDiscord, setting: str, value: str
) -> None:
    process = await start_bot(bot_env(fake_discord, tmp_path, **{setting: value}))
    code, output = await finish(process)
    assert code == 78, output
    assert "configuration error" in output and setting in output and value in output
    assert "Traceback" not in output
    assert fake_discord.requests == []  # refused before connecting to anything


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_closes_everything_and_exits_0(
    tmp_path: Path, fake_discord: FakeDiscord, signum: signal.Signals
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    process = await start_bot(bot_env(fake, tmp_path))
    try:
        await fake.wait_for_ready(timeout=EXIT_TIMEOUT_S)
        await fake.wait_for_sync(1, timeout=EXIT_TIMEOUT_S)
        process.send_signal(signum)
        code, output = await finish(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, output
    assert "stopping (signal received)" in output
    assert "Traceback" not in output and "ERROR" not in output
    assert "Task was destroyed" not in output and "Unclosed" not in output
    # The gateway was closed by the client (not dropped), and the store was closed cleanly:
    # no WAL left behind means SQLite checkpointed on close.
    await fake.wait_until(lambda: "close" in fake.gateway.kinds(), timeout=5)
    assert (tmp_path / "bot.db").exists()
    assert not (tmp_path / "bot.db-wal").exists()


async def test_a_database_path_that_cannot_be_opened_exits_78_naming_the_setting(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    process = await start_bot(bot_env(fake_discord, tmp_path, DIGESTBOT_DB=str(folder)))
    code, output = await finish(process)
    assert code == 78, output
    assert "configuration error: DIGESTBOT_DB" in output and str(folder) in output
    assert "digestbot crashed" not in output and "Traceback" not in output
    assert fake_discord.requests == []
