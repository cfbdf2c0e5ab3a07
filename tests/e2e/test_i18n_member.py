"""Japanese and English through the real bot and the fake Discord: the registered commands carry
`ja` localizations; a member whose client speaks Japanese gets every answer in Japanese (errors,
paging, buttons), one who speaks English gets English, and a language we lack falls back to the
server's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from bot.app import DigestBot
from bot.discord_locale import NAMES, CommandTranslator
from tests.e2e.harness import running_bot
from tests.e2e.test_command_sync import started
from tests.e2e.test_follow_commands import Feeds, stop_buttons
from tests.e2e.test_search_commands import component, description, subscribe
from tests.fakediscord import FakeDiscord, StandardGuild, StoredMessage
from tests.feedserver import FeedServer

SUBCOMMAND, GROUP = 1, 2


def _walk(options: list[dict[str, Any]], path: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for option in options:
        where = f"{path} {option['name']}"
        found.append((where, option))
        found += _walk(option.get("options") or [], where)
    return found


def _discord_name(text: str) -> bool:
    """Discord's rule for a localized command or option name (letters of any script)."""
    return (
        0 < len(text) <= 32
        and text == text.lower()
        and all(ch.isalnum() or ch in "-_" for ch in text)
    )


async def test_every_command_and_option_is_registered_with_japanese(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake):
        commands = fake.commands()
    assert {c["name"] for c in commands} >= {"feed", "search", "latest", "follow", "why"}
    checked = 0
    for command in commands:
        entries = [(f"/{command['name']}", command), *_walk(command["options"], command["name"])]
        for where, entry in entries:
            names = entry.get("name_localizations") or {}
            descriptions = entry.get("description_localizations") or {}
            assert _discord_name(names.get("ja", "")), (where, names)
            assert names["ja"] != entry["name"] or entry["name"] == "url", where
            assert descriptions.get("ja") and descriptions["ja"] != entry["description"], where
            assert set(names) == {"ja"} and set(descriptions) == {"ja"}, where  # English default
            for choice in entry.get("choices") or []:
                assert (choice.get("name_localizations") or {}).get("ja"), (where, choice)
            checked += 1
        # Localized option names stay unique among their siblings.
        siblings = [o["name_localizations"]["ja"] for o in command["options"]]
        assert len(siblings) == len(set(siblings)), command["name"]
    assert checked > 80  # every command, subcommand and option (91 today)
    search = next(c for c in commands if c["name"] == "search")
    assert search["name_localizations"]["ja"] == "検索"
    assert search["description"] == "Search every newsletter this server follows"


async def _ask(
    fake: FakeDiscord,
    world: StandardGuild,
    name: str,
    options: dict[str, Any],
    locale: str,
    *,
    user_id: int | None = None,
) -> StoredMessage:
    handle = await fake.invoke_command(
        name,
        options,
        guild_id=world.guild_id,
        channel_id=world.general_id,
        user_id=user_id or world.member_id,
        locale=locale,
    )
    answer = await handle.final_message(timeout=10)
    assert not handle.errors
    assert answer.ephemeral
    return answer


def _footer(message: StoredMessage) -> str:
    return str(message.embeds[0]["footer"]["text"])


async def test_search_pages_buttons_and_errors_in_the_members_language(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()  # the server's own language: en-US
    titles = [f"Paging post {n:02d}" for n in range(12)]
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "pages", titles)

        ja = await _ask(fake, world, "search", {"query": "paging"}, "ja")
        assert _footer(ja) == "結果 12件中 1〜10件目"
        assert "Paging post 11" in description(ja)  # the feed's text is never translated
        previous, next_ = component(ja, label="前へ"), component(ja, label="次へ")
        assert previous.get("disabled") and component(ja, label="関連")
        assert (
            component(ja, kind=3)["placeholder"]
            == "チャンネルに投稿：共有する結果を選んでください…"
        )

        # Paging: the click's own locale; someone else is refused in theirs.
        intruder = await fake.invoke_component(ja, next_["custom_id"], world.admin_id, locale="ja")
        refusal = await intruder.final_message()
        assert refusal.ephemeral
        assert refusal.content == "この検索結果のページ送りや共有ができるのは、検索した人だけです。"
        page2 = await (
            await fake.invoke_component(ja, next_["custom_id"], world.member_id, locale="ja")
        ).final_message()
        assert _footer(page2) == "結果 12件中 11〜12件目"

        en = await _ask(fake, world, "search", {"query": "paging"}, "en-US")
        assert _footer(en) == "Results 1–10 of 12"
        assert component(en, label="Previous") and component(en, label="Next")
        english_intruder = await fake.invoke_component(
            en, component(en, label="Next")["custom_id"], world.admin_id, locale="en-GB"
        )
        assert (await english_intruder.final_message()).content == (
            "Only the person who searched can page these results or share them."
        )

        # Errors: a `since` the service cannot read, and nothing found.
        bad = await _ask(fake, world, "search", {"query": "paging", "since": "x"}, "ja")
        assert bad.content.startswith("その `since` を読み取れませんでした。")
        assert "`2024-05-01`" in bad.content
        none = await _ask(fake, world, "search", {"query": "zzzz"}, "ja")
        assert none.content.endswith("見つかりませんでした。別の言葉で試してみてください。")
        bad_en = await _ask(fake, world, "search", {"query": "paging", "since": "x"}, "en-US")
        assert bad_en.content.startswith("I couldn't read that `since`.")

        latest = await _ask(fake, world, "latest", {"count": 2}, "ja")
        assert latest.content == "最新の2件："

        # Autocomplete runs in the member's language too.
        handle = await fake.invoke_autocomplete(
            "search",
            "since",
            {"query": "paging", "since": ""},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.member_id,
            locale="ja",
        )
        assert (await handle.choices())[0]["name"] == "過去7日間 (7d)"


async def test_each_command_answers_in_japanese_and_falls_back_to_the_servers_language(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    async with running_bot(tmp_path, fake) as bot:
        await subscribe(bot, feed_server, world, "letters", ["Rust letter one"])

        follow = await _ask(fake, world, "follow", {"topic": "rust"}, "ja")
        assert follow.content.startswith("**rust** をフォローしました。")
        following = await _ask(fake, world, "following", {}, "ja")
        assert following.content.startswith("このサーバーでフォロー中のトピック（")
        unfollow = await _ask(fake, world, "unfollow", {"topic": "999999"}, "ja")
        assert unfollow.content.startswith("このサーバーでそのトピックはフォローしていません。")

        why = await _ask(fake, world, "why", {"item": "https://nowhere.example/x"}, "ja")
        assert why.embeds[0]["title"] == "アーカイブにありません"
        related = await _ask(fake, world, "related", {"item": "nothing like it"}, "ja")
        assert "このサーバーのアーカイブにありません" in related.content

        # Admin commands, with a refusal and a service error.
        refused = await _ask(fake, world, "feed list", {}, "ja")
        assert refused.content == "それには **サーバー管理** の権限が必要です。"
        listed = await _ask(fake, world, "feed list", {}, "ja", user_id=world.admin_id)
        assert listed.embeds[0]["title"] == "このサーバーのフィード"
        schedule = await _ask(
            fake,
            world,
            "digest schedule",
            {"channel": world.news_id, "cadence": "daily", "time": "25:00", "timezone": "UTC"},
            "ja",
            user_id=world.admin_id,
        )
        assert schedule.content == (
            "申し訳ありません、そのダイジェストを設定できませんでした："
            "'25:00' は時刻ではありません。09:00 のような24時間制のHH:MMで指定してください"
        )
        english = await _ask(fake, world, "feed list", {}, "en-US", user_id=world.admin_id)
        assert english.embeds[0]["title"] == "Feeds in this server"

        # A language we have no catalogue for: the server's language, then English.
        fake.state.guilds[world.guild_id].preferred_locale = "ja"
        french = await _ask(fake, world, "following", {}, "fr")
        assert french.content.startswith("このサーバーでフォロー中のトピック（")
        fake.state.guilds[world.guild_id].preferred_locale = "en-US"
        french = await _ask(fake, world, "following", {}, "fr")
        assert french.content.startswith("Your topics in this server (")


class ChangedJapanese(CommandTranslator):
    """The catalogue after a translator reworded every Japanese command description."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        found = await super().translate(string, locale, context)
        if found is None or context.location in NAMES:
            return found
        return found[:90] + "！"


class BotWithChangedJapanese(DigestBot):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_translator = ChangedJapanese()


class InvalidNames(CommandTranslator):
    """A catalogue whose Japanese command name breaks Discord's rule (spaces, capitals)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        found = await super().translate(string, locale, context)
        if context.location is app_commands.TranslationContextLocation.command_name:
            return "Search Everything"
        return found


async def test_a_changed_translation_is_synced_and_an_invalid_one_refused(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.state.add_standard_guild()
    async with started(tmp_path, fake):
        assert fake.command_sync_count == 1
    async with started(tmp_path, fake, BotWithChangedJapanese):
        assert fake.command_sync_count == 2  # same English, new Japanese: synced again
        search = next(c for c in fake.commands() if c["name"] == "search")
        assert search["description_localizations"]["ja"].endswith("！")
    async with started(tmp_path, fake, BotWithChangedJapanese):
        assert fake.command_sync_count == 2

    class BotWithInvalidNames(DigestBot):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.command_translator = InvalidNames()

    async with started(tmp_path, fake, BotWithInvalidNames) as bot:
        assert bot.is_ready()  # the refused sync is logged; the bot runs on
        assert fake.command_sync_count == 2
        search = next(c for c in fake.commands() if c["name"] == "search")
        assert search["description_localizations"]["ja"].endswith("！")  # the old ones stay


async def test_the_stop_button_of_a_topic_dm_answers_in_the_clickers_language(
    tmp_path: Path, fake_discord: FakeDiscord, feed_server: FeedServer
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild("Button Guild")
    me = world.member_id
    async with running_bot(tmp_path, fake) as bot:
        feeds = Feeds(bot, feed_server)
        await feeds.subscribe(world, "alpha")
        await _ask(fake, world, "follow", {"topic": "rust"}, "ja")
        await feeds.publish("alpha", "Rust weekly")
        (dm,) = await fake.wait_for_dms(me, 1, timeout=10)
        (button,) = stop_buttons(dm)
        # A DM's click carries the member's locale and no server's.
        other = await fake.invoke_component(dm, button["custom_id"], world.admin_id, locale="ja")
        assert (await other.final_message(timeout=5)).content == (
            "このトピックを止められるのは、フォローしているメンバーだけです。"
        )
        clicked = await fake.invoke_component(dm, button["custom_id"], me, locale="ja")
        assert (await clicked.final_message(timeout=5)).content == (
            "**Button Guild** の **rust** のフォローをやめました。"
            "`/follow` でいつでもまたフォローできます。"
        )
        again = await fake.invoke_component(dm, button["custom_id"], me, locale="en-US")
        assert (await again.final_message(timeout=5)).content == "You no longer follow that topic."
