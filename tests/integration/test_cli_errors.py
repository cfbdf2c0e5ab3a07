"""The command line's mistakes in words, and exit codes that say whose they are to fix
(README "Exit codes"): 1 is kept for a crash. Run as a real process against loopback servers."""

from __future__ import annotations

from pathlib import Path

from tests.feedserver import FeedServer
from tests.integration.test_cli import archive_env, digestbot, letter


async def test_preview_of_a_missing_file_says_no_such_file(tmp_path: Path) -> None:
    for target in ("missing.xml", "feeds/missing.xml", str(tmp_path / "gone.rss")):
        code, _, err = await digestbot("preview", target, env=archive_env(tmp_path))
        assert code == 66, err
        assert f"digestbot: no such file: {target} (for a web address" in err
        assert "host name" not in err and "Traceback" not in err


async def test_feeds_add_of_a_bad_url_is_a_usage_error_in_words(tmp_path: Path) -> None:
    code, _, err = await digestbot("feeds", "add", "javascript:alert(1)", env=archive_env(tmp_path))
    assert code == 64, err
    assert "'javascript:alert(1)' is a javascript: link, not a web address" in err
    assert "Port could not be cast" not in err
    code, _, err = await digestbot("feeds", "add", "http://10.0.0.1/f", env=archive_env(tmp_path))
    assert code == 64, err
    assert "10.0.0.1 is on a private network" in err


async def test_feeds_add_of_a_page_without_a_feed_is_a_data_error(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/page", "<html><body>No feed.</body></html>", content_type="text/html")
    code, _, err = await digestbot(
        "feeds", "add", feed_server.url("/page"), env=archive_env(tmp_path)
    )
    assert code == 65, err
    feed_server.set("/gone", "gone", status=404, content_type="text/plain")
    code, _, err = await digestbot(
        "feeds", "add", feed_server.url("/gone"), env=archive_env(tmp_path)
    )
    assert code == 69, err


async def test_poll_once_exits_75_when_one_feed_failed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = archive_env(tmp_path)
    feed_server.set("/good", letter("a"))
    feed_server.set("/bad", letter("b"))
    for path in ("/good", "/bad"):
        code, _, err = await digestbot("feeds", "add", feed_server.url(path), env=env)
        assert code == 0, err
    feed_server.set("/good", letter("a", "c"))
    feed_server.set("/bad", "broken", status=500, content_type="text/plain")
    code, out, err = await digestbot("poll", "--once", env=env)
    assert code == 75, err
    assert "1 new, 0 updated" in out and ": failed: " in out
    feed_server.set("/bad", letter("b"))
    code, _, err = await digestbot("poll", "--once", env=env)
    assert code == 0, err


async def test_prune_says_age_counts_from_storage_time(tmp_path: Path) -> None:
    code, out, err = await digestbot("prune", "--help", env=archive_env(tmp_path))
    assert code == 0, err
    assert "age counts from when the bot stored an item" in " ".join(out.split())


async def test_the_cli_speaks_digestbot_locale_in_its_help_and_feed_errors(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    env = archive_env(tmp_path) | {"DIGESTBOT_LOCALE": "ja"}
    code, out, err = await digestbot("prune", "--help", env=env)
    assert code == 0, err
    assert "日数はボットが記事を保存した時点から数えます" in "".join(out.split())
    feed_server.set("/gone", "gone", status=404, content_type="text/plain")
    code, _, err = await digestbot("feeds", "add", feed_server.url("/gone"), env=env)
    assert code == 69, err
    assert (
        f"digestbot: サーバーは {feed_server.url('/gone')} に 404 Not Found を返しました。" in err
    )
    # A configuration that cannot be read names no language: its error stays English.
    code, _, err = await digestbot("feeds", "list", env=env | {"DIGESTBOT_LOCALE": "xx-??"})
    assert code == 78 and "configuration error" in err, err
