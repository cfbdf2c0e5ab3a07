"""A database that cannot be used — a folder, a text file, a damaged file, a read-only file, a
full disk — gets one line that says what to do and exit code 78 from every command, never a
traceback; nothing is written into a damaged file; a full disk at run time is the feed's
error in words, and the poll is retried with nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
import pytest

import bot.store.db as db_module
from bot.__main__ import main
from bot.store import Store
from bot.store.items import save_items
from tests.feedserver import FeedServer
from tests.integration.test_backup_retention import fresh
from tests.integration.test_cli import digestbot, letter

EXIT_CONFIG = 78
COMMANDS = [
    ("feeds", "add", "http://127.0.0.1:9/feed"),
    ("feeds", "list"),
    ("poll", "--once"),
    ("backup", "BACKUP"),
    ("run",),
]
COMMAND_IDS = ["feeds-add", "feeds-list", "poll-once", "backup", "run"]
PAGE = 4096


def _args(command: tuple[str, ...], tmp_path: Path) -> list[str]:
    return [str(tmp_path / "copy.db") if part == "BACKUP" else part for part in command]


def _env(db: Path) -> dict[str, str]:
    return {"DIGESTBOT_DB": str(db), "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"}


async def _archive_with_items(path: Path, count: int) -> None:
    store = await Store.open(path)
    try:
        feed = await store.feeds.add(
            "https://example.com/f", interval_s=900, now=0, first_poll_at=0
        )
        async with store.db.transaction() as tx:
            await save_items(tx, feed.id, [fresh(n) for n in range(count)], now=1.0)
    finally:
        await store.close()


def _quick_check(path: Path) -> str:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def _overwrite_middle_pages(path: Path) -> None:
    size = path.stat().st_size
    assert size > 64 * PAGE, size
    middle = (size // PAGE // 2) * PAGE
    with path.open("r+b") as handle:
        for offset in range(middle - 4 * PAGE, middle + 4 * PAGE, PAGE):
            handle.seek(offset)
            handle.write(bytes([0x0D]) + b"\xa5\x5a" * (PAGE // 2 - 1) + b"\xff")


async def _damaged_database(path: Path) -> None:
    """A real digestbot database (closed cleanly: no -wal), with pages in its middle
    overwritten by junk bytes, so that quick_check fails."""
    await _archive_with_items(path, 400)
    _overwrite_middle_pages(path)
    assert _quick_check(path) != "ok"


def _nothing_in_wal(db: Path) -> bool:
    wal = Path(f"{db}-wal")
    return not wal.exists() or wal.stat().st_size == 0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file made read-only in a way that also stops root: chmod for an ordinary user,
    the immutable attribute (chattr +i) for root; skipped where neither is possible."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(
            "running as root, where chmod does not stop writes, and chattr +i is not possible "
            f"here: {made.stderr.decode(errors='replace').strip()}"
        )
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("digestbot: "), err
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
async def test_a_folder_as_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    code, _, err = await digestbot(*_args(command, tmp_path), env=_env(folder))
    assert code == EXIT_CONFIG, err
    line = _one_line(err)
    assert f"DIGESTBOT_DB points at the folder {folder}" in line
    assert f"{folder / 'digestbot.db'}" in line
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
async def test_a_text_file_as_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("my shopping list\n" * 50, encoding="utf-8")
    before = _digest(text)
    code, _, err = await digestbot(*_args(command, tmp_path), env=_env(text))
    assert code == EXIT_CONFIG, err
    assert f"{text} is not an SQLite database" in _one_line(err)
    assert _digest(text) == before


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
async def test_a_damaged_database_is_refused_and_left_untouched(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    db = tmp_path / "bot.db"
    await _damaged_database(db)
    before = _digest(db)
    code, _, err = await digestbot(*_args(command, tmp_path), env=_env(db))
    assert code == EXIT_CONFIG, err
    line = _one_line(err)
    assert f"the database {db} is damaged" in line and ".recover" in line
    assert _digest(db) == before
    assert _nothing_in_wal(db)
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=COMMAND_IDS)
async def test_a_read_only_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    db = tmp_path / "bot.db"
    await _archive_with_items(db, 3)
    with _read_only(db):
        code, out, err = await digestbot(*_args(command, tmp_path), env=_env(db))
    if command[0] == "backup":  # reading is all a backup needs
        assert code == 0 and "integrity check passed" in out, err
        return
    assert code == EXIT_CONFIG, err
    assert f"the database {db} cannot be written" in _one_line(err)


# --- a full disk -------------------------------------------------------------------------
# SQLite reports a full disk (SQLITE_FULL) for real when a write needs more pages than the
# connection's max_page_count allows. That setting lives on a connection, so it cannot be
# given to a child process: these tests run the CLI entry in-process with the writer
# connection's max_page_count lowered to the file's current size.


def _fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    configure = db_module._configure

    async def no_room_to_grow(conn: aiosqlite.Connection, *, writer: bool) -> None:
        await configure(conn, writer=writer)
        if writer:  # clamped to the current number of pages: the file cannot grow
            async with conn.execute("PRAGMA max_page_count = 1") as cursor:
                await cursor.fetchall()

    monkeypatch.setattr(db_module, "_configure", no_room_to_grow)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    _fill_the_disk(monkeypatch)


@pytest.fixture(autouse=True)
def _drop_the_cli_log_handler() -> Iterator[None]:
    """main() installs a root log handler on the captured stderr: remove it afterwards."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "digestbot":
            root.removeHandler(handler)


async def _main(
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    db: Path,
    *args: str,
) -> tuple[int, str, str]:
    """The CLI entry in a thread (its own event loop; the loopback feed server keeps running
    on the test's loop)."""
    for key, value in {**_env(db), "DIGESTBOT_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(key, value)
    code = await asyncio.to_thread(main, list(args))
    out, err = capfd.readouterr()
    return code, out, err


def _assert_full(code: int, err: str, db: Path) -> None:
    assert code == EXIT_CONFIG, err
    assert "Traceback" not in err
    assert _one_line(err) == (
        f"digestbot: the database disk is full: free space on the disk that holds {db} "
        "(DIGESTBOT_DB)"
    )


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c[0] not in ("backup", "run")], ids=COMMAND_IDS[:3]
)
async def test_a_full_disk_before_the_database_exists(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    full_disk: None,
    command: tuple[str, ...],
) -> None:
    db = tmp_path / "bot.db"
    code, _, err = await _main(monkeypatch, capfd, db, *command)
    _assert_full(code, err, db)


def test_run_on_a_full_disk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    full_disk: None,
) -> None:
    db = tmp_path / "bot.db"
    for key, value in {**_env(db), "DIGESTBOT_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(key, value)
    # Console mode needs input (without it `run` stops at the missing token): `run < file`.
    commands = tmp_path / "commands.txt"
    commands.write_text("feed list\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", commands.open(encoding="utf-8"))
    code = main(["run"])  # the main thread: console mode installs signal handlers
    _, err = capfd.readouterr()
    _assert_full(code, err, db)


async def test_a_full_disk_at_poll_time_is_the_feeds_error_and_loses_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    feed_server: FeedServer,
) -> None:
    db = tmp_path / "bot.db"
    feed_server.set("/f", letter("a"))
    code, out, err = await _main(monkeypatch, capfd, db, "feeds", "add", feed_server.url("/f"))
    assert code == 0, err
    feed_server.set("/f", letter(*(f"n{n}" for n in range(40)), "a"))

    with monkeypatch.context() as patch:
        _fill_the_disk(patch)
        code, out, err = await _main(monkeypatch, capfd, db, "poll", "--once")
        assert code == 75, err  # a feed failed (EX_TEMPFAIL), as for any poll failure
        assert "Traceback" not in err and "internal error" not in out
        assert (
            "CLI Letter: failed: the database disk is full: free space on the disk that holds "
            f"{db} (DIGESTBOT_DB); the poll is retried"
        ) in out

    code, out, err = await _main(monkeypatch, capfd, db, "feeds", "list")
    assert code == 0 and "failing: the database disk is full" in out, err
    # Space freed: the same items arrive on the next poll.
    code, out, err = await _main(monkeypatch, capfd, db, "poll", "--once")
    assert code == 0, err
    assert "CLI Letter: 40 new" in out


async def test_feeds_add_on_a_full_disk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    feed_server: FeedServer,
) -> None:
    db = tmp_path / "bot.db"
    await _archive_with_items(db, 1)
    feed_server.set("/f", letter(*(f"n{n}" for n in range(40))))
    _fill_the_disk(monkeypatch)
    code, _, err = await _main(monkeypatch, capfd, db, "feeds", "add", feed_server.url("/f"))
    _assert_full(code, err, db)


async def test_a_backup_onto_a_full_disk(tmp_path: Path) -> None:
    """The backup's own file cannot grow past 64 KiB (RLIMIT_FSIZE in the child: the kernel
    refuses the write, as on a full disk)."""
    db = tmp_path / "bot.db"
    await _archive_with_items(db, 300)
    assert db.stat().st_size > 65536

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    process = await asyncio.create_subprocess_exec(
        *_python_bot("backup", str(tmp_path / "copy.db")),
        env={**os.environ, **_env(db), "DIGESTBOT_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=limited,
    )
    try:
        _, err_bytes = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    err = err_bytes.decode()
    assert process.returncode == 1, err
    line = _one_line(err)
    assert f"cannot write the backup {tmp_path / 'copy.db'}" in line
    assert "check the free space and permissions there" in line
    assert not (tmp_path / "copy.db").exists()
    assert not (tmp_path / "copy.db.partial").exists()


def _python_bot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]
