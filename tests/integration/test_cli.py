"""The `digestbot` command line, run as a real process against loopback servers."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakellm import GOOD_SUMMARY, running_fake_llm
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]


async def digestbot(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO,
        env={**os.environ, "DIGESTBOT_LOG_LEVEL": "WARNING", **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def archive_env(tmp_path: Path) -> dict[str, str]:
    return {"DIGESTBOT_DB": str(tmp_path / "cli.db"), "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"}


def letter(*guids: str) -> str:
    return rss_feed(
        [
            {
                "title": f"Post {g}",
                "guid": g,
                "link": f"https://l.example.com/{g}",
                "content": f"<p>Opening of post {g}. It says something.</p>",
                "duration": "1:02:03",
            }
            for g in guids
        ],
        title="CLI Letter",
    )


async def test_preview_of_the_bundled_sample(tmp_path: Path) -> None:
    code, out, _ = await digestbot("preview", env=archive_env(tmp_path))
    assert code == 0
    assert "The Sample Letter" in out and "Why small models keep surprising us" in out
    assert "reader-supported" not in out and "Subscribe now" not in out
    assert not (tmp_path / "cli.db").exists()  # preview stores nothing


async def test_feeds_add_list_and_poll_once(store_target: str, feed_server: FeedServer) -> None:
    """On SQLite and on PostgreSQL (DIGESTBOT_DB=postgresql://…): the same commands, output."""
    env = {"DIGESTBOT_DB": store_target, "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"}
    feed_server.set("/f", letter("a"))
    code, out, _ = await digestbot("feeds", "add", feed_server.url("/f"), env=env)
    assert code == 0 and "Added CLI Letter" in out and "1 item archived" in out
    code, out, _ = await digestbot("feeds", "list", env=env)
    assert code == 0 and "CLI Letter" in out and "1 item ·" in out
    feed_server.set("/f", letter("b", "a"))
    code, out, _ = await digestbot("poll", "--once", env=env)
    assert code == 0 and "1 new" in out and "Post b" in out
    code, out, _ = await digestbot("poll", "--once", env=env)
    assert code == 0 and "unchanged" in out


async def test_preview_says_how_many_more_items_and_how_to_see_them(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/f", letter(*(f"p{n:02}" for n in range(20))))
    url = feed_server.url("/f")
    code, out, _ = await digestbot("preview", url, env=archive_env(tmp_path))
    assert code == 0
    assert out.count("Post p") == 10
    assert out.rstrip().endswith(f"… 10 more items: digestbot preview {url} --limit 20")
    code, out, _ = await digestbot("preview", url, "--limit", "20", env=archive_env(tmp_path))
    assert code == 0 and out.count("Post p") == 20 and "more items" not in out
    code, out, _ = await digestbot("preview", "--limit", "1", env=archive_env(tmp_path))
    assert code == 0 and "… 2 more items: digestbot preview --limit 3" in out


async def test_preview_llm_shows_both_summaries(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.set("/f", letter("a"))
    async with running_fake_llm() as llm:
        env = {
            **archive_env(tmp_path),
            "DIGESTBOT_LLM_BASE_URL": llm.base_url,
            "DIGESTBOT_LLM_MODEL": "fake",
        }
        code, out, _ = await digestbot(
            "preview", feed_server.url("/f"), "--summarizer", "llm", env=env
        )
    assert code == 0
    assert "offline summary: Opening of post a." in out
    assert f"AI summary:      {GOOD_SUMMARY}" in out


async def test_bad_setting_exits_78_naming_it(tmp_path: Path) -> None:
    env = {**archive_env(tmp_path), "DIGESTBOT_POLL_INTERVAL": "banana"}
    code, _, err = await digestbot("feeds", "list", env=env)
    assert code == 78 and "DIGESTBOT_POLL_INTERVAL" in err


async def test_console_mode_runs_typed_commands(store_target: str, feed_server: FeedServer) -> None:
    feed_server.set("/f", letter("b", "a"))
    typed = f"feed add {feed_server.url('/f')} --backfill 2\nfeed list\nnonsense\nquit\n"
    env = {"DIGESTBOT_DB": store_target, "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32"}
    code, out, _ = await digestbot("run", env=env, stdin=typed.encode())
    assert code == 0
    assert "✅ Following CLI Letter in #console (instant mode)." in out
    assert "Unknown command 'nonsense'" in out
    assert f"CLI Letter <{feed_server.url('/f')}> → #console · instant" in out


async def test_a_closed_pipe_is_not_a_crash(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `digestbot preview | head -n 0`
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "preview",
        cwd=REPO,
        env={**os.environ, **archive_env(tmp_path)},
        stdout=write_end,
        stderr=asyncio.subprocess.PIPE,
    )
    os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0
    assert b"Traceback" not in err


async def test_console_reads_commands_from_a_file(tmp_path: Path) -> None:
    commands = tmp_path / "commands.txt"
    commands.write_text("feed list\nquit\n", encoding="utf-8")
    with commands.open("rb") as stdin:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=REPO,
            env={**os.environ, "DIGESTBOT_LOG_LEVEL": "WARNING", **archive_env(tmp_path)},
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0
    assert "No feeds yet" in out.decode()
