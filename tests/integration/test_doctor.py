"""`digestbot doctor`: a corrupt database, a schema newer than the code, a foreign or
unreadable file, and (against the loopback fake Discord) the token and channel permissions."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.model import EnrichedItem, Entry
from bot.ops.cli import cmd_doctor
from bot.ops.doctor import Finding, run_doctor
from bot.store import Store
from bot.store.db import latest_schema_version
from bot.store.items import FreshItem, save_items
from tests.fakediscord import FakeDiscord


def fresh(n: int) -> FreshItem:
    text = f"Paragraph {n} " * 200
    entry = Entry(
        stable_id=f"id-{n}",
        title=f"Item {n}",
        url=f"https://example.com/{n}",
        author=None,
        published=datetime(2024, 1, 1, tzinfo=UTC),
        content_html=f"<p>{text}</p>",
        description_html="",
    )
    return FreshItem(EnrichedItem(entry, text, text[:200], None, f"c{n}"), f"r{n}")


async def make_database(path: Path, items: int = 120) -> int:
    store = await Store.open(path)
    feed = await store.feeds.add("https://example.com/feed", interval_s=900, now=0, first_poll_at=0)
    async with store.db.transaction() as tx:
        await save_items(tx, feed.id, [fresh(n) for n in range(items)], now=1.0)
    await store.close()
    return feed.id


def overwrite_pages(path: Path) -> None:
    """Garbage over three pages in the middle and near the end of the file."""
    pages = path.stat().st_size // 4096
    assert pages > 20
    with open(path, "r+b") as handle:
        for page in (pages // 3, pages // 2, pages - 2):
            handle.seek(page * 4096)
            handle.write(os.urandom(4096))


def errors(findings: list[Finding], area: str) -> list[str]:
    return [f.message for f in findings if f.severity == "error" and f.area == area]


async def test_a_healthy_database_passes_and_a_corrupt_copy_is_found(tmp_path: Path) -> None:
    good = tmp_path / "good.db"
    await make_database(good)
    findings = await run_doctor(Settings(db_path=good), online=False)
    assert errors(findings, "database") == []
    assert any(f.severity == "ok" and "integrity check passed" in f.message for f in findings)
    assert any(f.severity == "ok" and "WAL" in f.message for f in findings)

    corrupt = tmp_path / "corrupt.db"
    shutil.copy(good, corrupt)
    overwrite_pages(corrupt)
    findings = await run_doctor(Settings(db_path=corrupt), online=False)
    problems = errors(findings, "database")
    assert len(problems) == 1 and problems[0].startswith("The integrity check failed")
    fix = next(f.fix for f in findings if f.message == problems[0])
    assert fix and "backup" in fix and ".recover" in fix


async def test_a_schema_newer_than_the_code_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    await make_database(path, items=1)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_schema_version() + 2}")
    conn.commit()
    conn.close()
    findings = await run_doctor(Settings(db_path=path), online=False)
    problems = errors(findings, "database")
    assert problems == [
        f"The schema version is {latest_schema_version() + 2}, newer than this digestbot "
        f"(it knows up to {latest_schema_version()}): a newer digestbot wrote this file."
    ]
    # The doctor only read the file: the version is untouched.
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_schema_version() + 2
    conn.close()


async def test_foreign_unreadable_missing_and_old_databases(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    found = await run_doctor(Settings(db_path=foreign), online=False)
    assert "another application" in errors(found, "database")[0]

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    found = await run_doctor(Settings(db_path=garbage), online=False)
    assert "cannot be read as an SQLite database" in errors(found, "database")[0]

    missing = tmp_path / "sub" / "later.db"
    found = await run_doctor(Settings(db_path=missing), online=False)
    assert errors(found, "database") == []
    assert any("does not exist yet" in f.message for f in found)
    assert not missing.exists()

    old = tmp_path / "old.db"
    await make_database(old, items=1)
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    found = await run_doctor(Settings(db_path=old), online=False)
    assert errors(found, "database") == []
    assert any(f.severity == "info" and "migrates it" in f.message for f in found)


async def test_token_and_channel_permissions_against_the_fake_discord(
    tmp_path: Path, capsys: object
) -> None:
    path = tmp_path / "bot.db"
    feed_id = await make_database(path, items=1)
    async with FakeDiscord.serve(token="MTA5ODc2.GxAbCd.abcdefghijklmnop") as fake:
        world = fake.state.add_standard_guild()
        store = await Store.open(path)
        deleted_channel = 999_999_999_999
        for channel in (
            world.news_id,
            world.no_view_id,
            world.no_send_id,
            world.no_embed_id,
            world.no_history_id,
            deleted_channel,
        ):
            await store.subscriptions.add(world.guild_id, channel, feed_id, now=1.0)
        await store.close()

        found = await run_doctor(Settings(db_path=path, discord_token=fake.token), online=True)
        discord_errors = errors(found, "discord")
        assert any(f.severity == "ok" and "The token belongs to" in f.message for f in found)
        assert any(f.severity == "ok" and f"({world.news_id})" in f.message for f in found)
        assert any(f"({world.no_embed_id}) the bot lacks Embed Links:" in m for m in discord_errors)
        # Discord's implicit rule (discord.py's calculation keeps it): who cannot send
        # messages cannot embed links either.
        assert any(
            f"({world.no_send_id}) the bot lacks Send Messages, Embed Links:" in m
            for m in discord_errors
        )
        assert any(f"cannot see channel {world.no_view_id}" in m for m in discord_errors)
        assert any(f"Channel {deleted_channel} " in m for m in discord_errors)
        assert any(
            f"({world.no_history_id}) the bot lacks Read Message History: a post interrupted" in m
            for m in discord_errors
        )
        assert len(discord_errors) == 5

        bad = await run_doctor(Settings(db_path=path, discord_token="not.the.token"), online=True)
        assert errors(bad, "discord") == ["Discord rejected DISCORD_TOKEN (401 Unauthorized)."]

        requests_before = len(fake.requests)
        offline = await run_doctor(Settings(db_path=path, discord_token=fake.token), online=False)
        assert len(fake.requests) == requests_before
        assert errors(offline, "discord") == []

        exit_code = await cmd_doctor(Settings(db_path=path, discord_token=fake.token), online=True)
        assert exit_code == 1
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        assert "[ERROR] discord:" in out and "→ Channel settings" in out
        assert out.rstrip().endswith("5 problems, 0 warnings.")
