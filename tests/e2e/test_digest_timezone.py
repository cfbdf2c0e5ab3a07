"""`/digest schedule … timezone:est` uses the zone people mean (America/New_York, with its
daylight saving time), not tzdata's fixed UTC−5 "EST", and says so; the autocomplete offers it
first. Through the real bot, discord.py and the fake Discord."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import running_bot
from tests.fakediscord import FakeDiscord


async def test_an_abbreviated_zone_is_scheduled_in_its_iana_zone_and_the_answer_says_so(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    world = fake.state.add_standard_guild()
    where = {"user_id": world.admin_id, "guild_id": world.guild_id, "channel_id": world.general_id}
    async with running_bot(tmp_path, fake) as bot:
        handle = await fake.invoke_autocomplete(
            "digest schedule", "timezone", {"timezone": "est"}, **where
        )
        assert (await handle.choices())[0]["value"] == "America/New_York"

        handle = await fake.invoke_command(
            "digest schedule",
            {"channel": world.news_id, "cadence": "daily", "time": "08:00", "timezone": "EST"},
            **where,
        )
        answer = (await handle.final_message(timeout=5)).content
        assert "daily at 08:00 (America/New_York)" in answer
        assert "“EST” was read as the time zone America/New_York" in answer
        assert "daylight saving time" in answer
        row = await bot.runtime.store.digests.get(world.news_id)
        assert row is not None and row.timezone == "America/New_York"

        handle = await fake.invoke_command(
            "digest schedule",
            {"channel": world.news_id, "cadence": "daily", "time": "08:00", "timezone": "UTC"},
            **where,
        )
        assert "was read as" not in (await handle.final_message(timeout=5)).content
