"""Console mode and CLI output speak DIGESTBOT_LOCALE: with `ja`, a real `digestbot run` prints
Japanese chrome (help, errors, the post's by-line and fields) and Japanese dates; `digestbot
preview` too. The feed's own text stays as the feed wrote it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.children import ChildProcesses
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 60

EPISODE = {
    "title": "Episode 7: distillation",
    "link": "https://pod.example.com/7",
    "guid": "ep-7",
    "description": "We talk about distillation.",
    "pubDate": "Wed, 01 May 2024 12:30:00 GMT",
    "author": "Nathan Host",
    "duration": "1:02:05",
    "enclosure": {"url": "https://cdn.example.com/7.mp3", "type": "audio/mpeg", "length": "1"},
}


async def run_bot(
    child_processes: ChildProcesses, tmp_path: Path, *args: str, typed: str = "", locale: str
) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    process = await child_processes.spawn(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO,
        env={
            **env,
            "DIGESTBOT_DB": str(tmp_path / "language.db"),
            "DIGESTBOT_FETCH_ALLOW": "127.0.0.1/32",
            "DIGESTBOT_LOG_LEVEL": "WARNING",
            "DIGESTBOT_LOCALE": locale,
        },
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    raw, err = await asyncio.wait_for(process.communicate(typed.encode()), timeout=DEADLINE_S)
    assert process.returncode == 0, err.decode()
    return raw.decode()


async def test_console_with_locale_ja_prints_japanese_chrome_and_dates(
    child_processes: ChildProcesses, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/pod", rss_feed([EPISODE], title="The Pod"))
    typed = "\n".join(
        [
            "help",
            "frobnicate",
            "language channel",
            "language channel fr",
            f"feed add {feed_server.url('/pod')} --backfill 1",
        ]
    )
    out = await run_bot(child_processes, tmp_path, "run", typed=typed, locale="ja")
    assert "コマンド:" in out
    assert "記事に何が起きたか、その理由" in out  # the help of `why`
    assert "'frobnicate' というコマンドはありません。一覧は `help` で表示できます。" in out
    assert "#console の投稿・ダイジェスト・お知らせはサーバーの言語（自動）で書かれます。" in out
    assert "“fr” は対応していない言語です。auto | en | ja から選んでください。" in out
    # The post the outbox printed: the feed's words, our Japanese around them, a Japanese date.
    assert "[The Pod] Episode 7: distillation" in out
    assert "  2024/05/01 12:30:00 UTC · 著者: Nathan Host" in out
    assert "  再生時間: 1:02:05 · 聴く: 音声 (mp3) <https://cdn.example.com/7.mp3>" in out


async def test_cli_preview_dates_follow_the_locale(
    child_processes: ChildProcesses, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/pod", rss_feed([EPISODE], title="The Pod"))
    url = feed_server.url("/pod")
    ja = await run_bot(child_processes, tmp_path, "preview", url, locale="ja")
    assert "  2024/05/01 12:30:00 UTC · 著者: Nathan Host" in ja
    en = await run_bot(child_processes, tmp_path, "preview", url, locale="en")
    assert "  May 1, 2024, 12:30:00\u202fPM UTC · by Nathan Host" in en
