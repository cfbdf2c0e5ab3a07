"""The store on a real PostgreSQL server: migrations, refusals, the SQL seam, the settings."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest

from bot.config import Settings, load_settings
from bot.ops.backup import cmd_backup
from bot.ops.doctor import run_doctor
from bot.search.query import parse_query
from bot.store import ForeignDatabaseError, SchemaTooNewError, Store, StoreError, storage_problem
from bot.store.db import load_migrations
from bot.store.postgres import SCHEMA_TABLE, redacted, translate
from bot.store.search import search_items
from tests.integration.search_fixtures import add_feed, add_items, make_item
from tests.pgserver import admin, with_database


async def _fetchval(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_migrates_up_from_empty_and_reopens_without_change(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        feed = await add_feed(store.db, "alpha")
        await add_items(store.db, feed, [make_item("1", "Kept across a reopen", "body")])
    finally:
        await store.close()
    latest = len(load_migrations("migrations_pg"))
    assert await _fetchval(pg_url, f"SELECT version FROM {SCHEMA_TABLE}") == latest
    store = await Store.open(pg_url)
    try:
        assert await store.items.count() == 1
        assert await _fetchval(pg_url, f"SELECT count(*) FROM {SCHEMA_TABLE}") == 1
    finally:
        await store.close()


async def test_refuses_a_newer_schema(pg_url: str) -> None:
    await (await Store.open(pg_url)).close()
    newer = len(load_migrations("migrations_pg")) + 1
    admin(pg_url, f"UPDATE {SCHEMA_TABLE} SET version = {newer}")
    with pytest.raises(SchemaTooNewError, match="newer digestbot"):
        await Store.open(pg_url)


async def test_refuses_a_database_of_another_application(pg_url: str) -> None:
    admin(pg_url, "CREATE TABLE invoices (id integer)")
    with pytest.raises(ForeignDatabaseError, match="another application"):
        await Store.open(pg_url)
    assert await _fetchval(pg_url, f"SELECT to_regclass('{SCHEMA_TABLE}') IS NULL") is True


async def test_an_unreachable_server_is_one_line_without_the_password(pg_server: str) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://bot:s3cret@127.0.0.1:{port}/digestbot"
    with pytest.raises(StoreError) as caught:
        await Store.open(url)
    message = str(caught.value)
    assert "cannot connect" in message and "DIGESTBOT_DB" in message
    assert "s3cret" not in message and "\n" not in message


def test_parameters_become_numbered_and_strings_stay() -> None:
    sql, args = translate("SELECT ? FROM t WHERE a = 'it''s ? :x' AND b IN () AND c = ?", (1, 2))
    assert sql == "SELECT $1 FROM t WHERE a = 'it''s ? :x' AND b = ANY ('{}') AND c = $2"
    assert args == [1, 2]
    sql, args = translate(
        "UPDATE t SET a = :now, b = :now::text WHERE id = :id", {"id": 3, "now": 5}
    )
    assert sql == "UPDATE t SET a = $1, b = $1::text WHERE id = $2" and args == [5, 3]
    assert translate("SELECT 1 WHERE x NOT IN () AND +d.kind = 'a'", ())[0] == (
        "SELECT 1 WHERE x <> ALL ('{}') AND d.kind = 'a'"
    )


async def test_sqlite_style_values_reach_typed_columns(pg_url: str) -> None:
    """SQLite stores a number in a TEXT column and reads 1 as true; the PG seam converts such
    values to the parameter's declared type instead of failing."""
    store = await Store.open(pg_url)
    try:
        feed = await store.feeds.add("https://x.example/f", interval_s=900, now=0, first_poll_at=1)
        async with store.db.transaction() as tx:
            await tx.execute("UPDATE feeds SET title = ?, disabled = ? WHERE id = ?", (5, True, 1))
            [row] = await tx.execute_fetchall("SELECT CASE WHEN ? THEN 'yes' ELSE 'no' END", (1,))
            assert tuple(row) == ("yes",)
        row = await store.feeds.get(feed.id)
        assert row is not None and row.title == "5" and row.disabled
    finally:
        await store.close()


async def test_search_agrees_between_backends(pg_url: str, tmp_path: object) -> None:
    """The same archive and queries give the same hits and snippets on SQLite and PostgreSQL."""
    items = [
        make_item("jp", "お知らせ", "プランは500円で自動更新します。詳しくは会員ページで。"),
        make_item("tulu", "Tülu 3 is out", "AllenAI released Tülu, an open weight model."),
        make_item("ai", "AI policy", "He said the AI act passed after a long debate."),
        make_item("long", "Long read", " ".join(f"word{n}" for n in range(80)) + " kiwi end"),
    ]
    queries = ["自動更新", "tulu", "AI", '"open weight"', "kiwi", "act OR debate -policy"]
    found: list[list[list[tuple[str, str]]]] = []
    for target in (str(tmp_path) + "/agree.db", pg_url):  # type: ignore[operator]
        store = await Store.open(target)
        try:
            feed = await add_feed(store.db, "mixed")
            await add_items(store.db, feed, items)
            pages = []
            for text in queries:
                query = parse_query(text)
                assert query is not None
                page = await search_items(store.db, query, feed_ids=[feed])
                pages.append([(hit.title, hit.snippet) for hit in page.hits])
            found.append(pages)
        finally:
            await store.close()
    assert found[0] == found[1]
    assert found[1][0] and "\x02自動更新\x03" in found[1][0][0][1]


def test_digestbot_db_takes_a_postgresql_url() -> None:
    url = "postgresql://bot:s3cret@db.internal:5432/digestbot"
    settings = load_settings({"DIGESTBOT_DB": url})
    assert settings.database == url
    assert "s3cret" not in repr(settings)
    assert redacted(url) == "postgresql://bot:***@db.internal:5432/digestbot"
    assert str(load_settings({"DIGESTBOT_DB": "/var/lib/digestbot/bot.db"}).database) == (
        "/var/lib/digestbot/bot.db"
    )


def test_with_database_keeps_the_server() -> None:
    assert with_database("postgresql://u@h:1/postgres", "x") == "postgresql://u@h:1/x"


async def test_doctor_checks_the_postgresql_database(pg_url: str) -> None:
    settings = Settings(db_path=pg_url)  # type: ignore[arg-type]  # as DIGESTBOT_DB gives it
    empty = [f for f in await run_doctor(settings, online=False) if f.area == "database"]
    assert [(f.severity, "is empty" in f.message) for f in empty] == [("info", True)]
    await (await Store.open(pg_url)).close()
    latest = len(load_migrations("migrations_pg"))
    ready = [f for f in await run_doctor(settings, online=False) if f.area == "database"]
    assert [f.severity for f in ready] == ["ok"]
    assert f"schema version {latest}" in ready[0].message
    admin(pg_url, f"UPDATE {SCHEMA_TABLE} SET version = {latest + 1}")
    newer = [f for f in await run_doctor(settings, online=False) if f.area == "database"]
    assert [f.severity for f in newer] == ["error"] and "newer" in newer[0].message


async def test_doctor_names_an_unreachable_server_without_its_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(db_path=f"postgresql://bot:s3cret@127.0.0.1:{port}/x")  # type: ignore[arg-type]
    found = [f for f in await run_doctor(settings, online=False) if f.area == "database"]
    assert [f.severity for f in found] == ["error"]
    assert "cannot reach" in found[0].message and "s3cret" not in found[0].render()


async def test_backup_of_a_postgresql_database_points_at_pg_dump(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(db_path=pg_url)  # type: ignore[arg-type]
    assert await cmd_backup(settings, tmp_path / "copy.db") == 1
    assert "pg_dump" in capsys.readouterr().err
    assert not (tmp_path / "copy.db").exists()


async def test_a_lost_server_connection_is_the_operators_one_line(pg_url: str) -> None:
    store = await Store.open(pg_url)
    try:
        await store.feeds.add("https://x.example/f", interval_s=900, now=0, first_poll_at=1)
        name = pg_url.rsplit("/", 1)[1]
        admin(
            pg_url.rsplit("/", 1)[0] + "/postgres",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )
        with pytest.raises(Exception) as caught:
            await store.feeds.all()
        problem = storage_problem(caught.value, store.db.path)
        assert problem is not None and "lost the connection" in problem
        assert "DIGESTBOT_DB" in problem and "\n" not in problem
    finally:
        await store.close()
