"""SIGKILL during a webhook post: the real bot (`python -m bot run` against the fake Discord)
is killed after Discord stored its webhook post but before the answer (the message id)
arrived. Webhook executes carry no nonce, so only the channel's history can tell that the post
went through: after the restart the bot must find it there and post nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.children import ChildProcesses
from tests.e2e.test_crash_real_bot import BotProcesses, bot_env, delivery_states
from tests.e2e.test_feed_mention_and_test_post import admin_command
from tests.e2e.test_webhook_identity import allow_manage_webhooks, letter, titles
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer

FEED_PATH = "/letter.xml"
EXECUTE = r"/webhooks/\d+/[^/]+$"


@pytest.mark.timeout(300)
async def test_a_sigkill_during_a_webhook_post_posts_nothing_twice(
    tmp_path: Path, child_processes: ChildProcesses
) -> None:
    async with FakeDiscord.serve(nonce_window=0.5) as fake, FeedServer() as server:
        world = fake.state.add_standard_guild()
        allow_manage_webhooks(fake, world, world.news_id)
        server.set(FEED_PATH, letter(["Hello"]))
        env = bot_env(fake, tmp_path) | {"DIGESTBOT_LOG_LEVEL": "DEBUG"}
        bots = BotProcesses(fake, env, tmp_path / "bot.log", child_processes)
        first = await bots.start_ready()
        add = await fake.invoke_command(
            "feed add",
            {"url": server.url(FEED_PATH), "channel": world.news_id, "backfill": 0},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        assert "The Letter" in (await add.final_message(timeout=30)).content
        answer = await admin_command(
            fake,
            world,
            "feed identity",
            {"feed": "The Letter", "mode": "webhook", "channel": world.news_id},
        )
        assert "webhook" in answer.content, answer.content

        # The post is stored, its answer held: the kill lands while it is unconfirmed.
        held = fake.faults.delay(EXECUTE, 120, method="POST", after_effect=True)
        server.set(FEED_PATH, letter(["Hello", "Crash post"]))
        await fake.wait_until(
            lambda: held.hits > 0 and bool(fake.webhook_posts(world.news_id)),
            timeout=60,
            what="the webhook post stored, its answer held",
        )
        await bots.sigkill(first)
        fake.faults.remove(held)
        assert delivery_states(tmp_path / "bot.db").get("sending") == 1

        second = await bots.start_ready()
        try:
            await fake.wait_until(
                lambda: delivery_states(tmp_path / "bot.db").get("sent") == 1,
                timeout=60,
                what="the delivery marked sent after the restart",
            )
            assert bots.log_count("was already posted") == 1, bots.log_tail()
            # The next post goes through the same webhook, answered this time.
            server.set(FEED_PATH, letter(["Hello", "Crash post", "Next post"]))
            await fake.wait_until(
                lambda: len(fake.webhook_posts(world.news_id)) >= 2, timeout=60, what="next post"
            )
        finally:
            await bots.stop(second)
        assert titles(fake.webhook_posts(world.news_id)) == ["Crash post", "Next post"]
        assert fake.bot_posts(world.news_id) == []
        # The webhook's token is a secret: not in the log, even at DEBUG.
        (webhook,) = fake.webhooks.of_channel(world.news_id)
        assert webhook.token not in (tmp_path / "bot.log").read_text(errors="replace")
