"""Deploy files keep secrets and bulk out: git never tracks the env file that holds the token,
and the Docker build context carries neither the venv, nor databases, nor env files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore rule as a regex: rooted at the context, `**` spans directories,
    `*` and `?` stay inside one path segment, and a match on a directory covers what is below."""
    out = ""
    i = 0
    body = pattern.strip("/")
    while i < len(body):
        if body.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif body.startswith("**", i):
            out, i = out + ".*", i + 2
        elif body[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif body[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(body[i]), i + 1
    return re.compile(out + "(?:/.*)?")


def _docker_ignores(path: str) -> bool:
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if _docker_pattern(line.lstrip("!")).fullmatch(path):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".venv/lib/python3.11/site-packages/discord/client.py",
        "digestbot.db",
        "digestbot.db-wal",
        "data/backups/digestbot.db",
        "deploy/digestbot.env",
        "prod.env",
        ".git/HEAD",
    ],
)
def test_docker_build_context_leaves_out_bulk_and_secrets(path: str) -> None:
    assert _docker_ignores(path)


def test_docker_build_context_keeps_what_the_dockerfile_copies() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    sources = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    ]
    assert sources == ["pyproject.toml", "README.md", "bot", "cogs"]
    for source in [*sources, "bot/__main__.py", "cogs/feeds.py", "bot/store/db.py"]:
        assert not _docker_ignores(source), source


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_never_tracks_the_env_file_but_keeps_its_example() -> None:
    def ignored(path: str) -> bool:
        result = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, check=False
        )
        return result.returncode == 0

    assert ignored("deploy/digestbot.env")
    assert not ignored("deploy/digestbot.env.example")


def test_systemd_unit_says_how_to_build_its_wheel_and_which_setting_wins() -> None:
    unit = (ROOT / "deploy" / "digestbot.service").read_text(encoding="utf-8")
    assert "pip wheel --no-deps --wheel-dir dist ." in unit
    assert "EnvironmentFile= override" in unit
    assert "After EnvironmentFile: the database always" not in unit
