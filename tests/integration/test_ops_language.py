"""The operator's tools speak DIGESTBOT_LOCALE: a real `digestbot doctor --offline`, `backup`
and `prune` print their findings, advice, reports and counted summaries in Japanese with `ja`,
and in English by default."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from bot.store import Store
from tests.children import ChildProcesses

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 60


async def ops(
    child_processes: ChildProcesses, db: Path, *args: str, env: dict[str, str]
) -> tuple[int, str, str]:
    """Run `digestbot ARGS` on `db` with no DISCORD_TOKEN unless `env` gives one."""
    inherited = {
        k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "DIGESTBOT_LOCALE"}
    }
    process = await child_processes.spawn(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO,
        env={**inherited, "DIGESTBOT_DB": str(db), "DIGESTBOT_LOG_LEVEL": "WARNING", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=DEADLINE_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_doctor_speaks_the_operators_language(
    child_processes: ChildProcesses, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    await (await Store.open(db)).close()
    ja = {"DIGESTBOT_LOCALE": "ja"}

    code, out, err = await ops(child_processes, db, "doctor", "--offline", env=ja)
    assert code == 0, err
    assert "[情報] 設定: DISCORD_TOKEN が設定されていません。" in out
    assert "→ Discord に投稿するには" in out
    assert "[正常] データベース: 整合性チェックに合格しました。" in out
    assert "[正常] データベース: WAL モードが有効です。" in out
    assert re.search(r"\n問題 0 件、警告 \d+ 件。\n$", out), out
    assert "problem" not in out and "integrity" not in out

    # A malformed token: an error with its advice, counted; the skip of the Discord checks
    # still recognizes the (translated) token finding, so no "offline" note follows it.
    bad = ja | {"DISCORD_TOKEN": "Bot abc.def.ghi"}
    code, out, err = await ops(child_processes, db, "doctor", "--offline", env=bad)
    assert code == 1, err
    assert "[エラー] 設定: DISCORD_TOKEN に空白が含まれているか、「Bot 」で始まっています。" in out
    assert re.search(r"\n問題 1 件、警告 \d+ 件。\n$", out), out
    assert "オフライン" not in out

    code, out, err = await ops(child_processes, db, "doctor", "--offline", env={})
    assert code == 0, err
    assert "[note] configuration: DISCORD_TOKEN is not set" in out
    assert "[ok] database: The integrity check passed." in out
    assert re.search(r"\n0 problems, \d+ warnings?\.\n$", out), out


async def test_backup_and_prune_report_in_the_operators_language(
    child_processes: ChildProcesses, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    await (await Store.open(db)).close()
    copy = tmp_path / "copy.db"
    ja = {"DIGESTBOT_LOCALE": "ja"}

    code, out, err = await ops(child_processes, db, "backup", str(copy), env=ja)
    assert code == 0, err
    assert f"{copy} にバックアップを書き出しました（" in out
    assert "整合性チェックに合格しました。" in out
    code, out, err = await ops(child_processes, db, "backup", str(copy), env=ja)
    assert code == 1
    assert (
        f"digestbot: {copy} はすでにあります。別のパスを選ぶか、--overwrite を付けてください" in err
    )

    code, out, err = await ops(child_processes, db, "prune", "--older-than", "30", env=ja)
    assert code == 0, err
    assert "保存と公開から 30 日より長く経った記事を 0 件削除しました" in out
    code, out, err = await ops(child_processes, db, "prune", "--older-than", "0", env=ja)
    assert code == 2
    assert "digestbot: --older-than は 1 日以上にしてください" in err

    code, out, err = await ops(child_processes, db, "prune", "--older-than", "1", env={})
    assert code == 0, err
    assert "Pruned 0 items stored and published more than 1 day ago" in out
