"""A real PostgreSQL server for the test session, and a fresh database for each test.

The server is Debian's package (/usr/lib/postgresql/<version>/bin; tests/run.sh installs it
when missing), started once per session in a temporary folder: listening on 127.0.0.1 on a
free port and on a Unix socket in that folder, durability off (the data is thrown away). As
root, initdb and pg_ctl run as the `postgres` user (initdb refuses root) in a folder it owns.
The server is stopped (`pg_ctl stop -m immediate`) and the folder removed in a finally.
DIGESTBOT_TEST_PG_URL=postgresql://… uses that server instead (each test still gets a fresh
database on it, dropped afterwards).

`store_target` is the parametrized fixture of the store's contract tests: an SQLite file path
and a `postgresql://` URL, so the same test runs on both backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

_names = itertools.count()


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield its admin URL; stop and remove it."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (tests/run.sh installs Debian's postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="digestbot-pg-"))
    data = folder / "data"
    started = False
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        port = _free_port()
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        started = True
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(folder / "server.log"),
                    "-w",
                    "-t",
                    "120",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate"]
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)


def _in_thread(coro_factory: Any) -> Any:
    """Run a coroutine to completion on a private loop (a sync fixture may sit inside
    pytest-asyncio's running loop)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro_factory())
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def admin(url: str, *statements: str) -> None:
    """Run statements on the server (outside any transaction: CREATE/DROP DATABASE)."""

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    _in_thread(run)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of the session's PostgreSQL server."""
    given = os.environ.get("DIGESTBOT_TEST_PG_URL")
    if given:
        yield given
        return
    with running_server() as url:
        yield url


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new empty database on the server (dropped afterwards): its URL."""
    name = f"digestbot_test_{os.getpid()}_{next(_names)}"
    admin(server, f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield with_database(server, name)
    finally:
        admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """DIGESTBOT_DB for a contract test, once per backend: an SQLite file, then a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    server = request.getfixturevalue("pg_server")
    with fresh_database(server) as url:
        yield url
