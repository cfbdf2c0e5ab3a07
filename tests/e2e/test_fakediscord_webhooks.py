"""The fake Discord's channel webhooks follow Discord's rules, as discord.py 2.7 sees them:
Manage Webhooks to make or list one, names with "discord"/"clyde" refused, execute with
`wait`/`thread_id`/`username`/`avatar_url` and no nonce, 404/10015 once deleted."""

from __future__ import annotations

import discord
import pytest

from tests.e2e.test_fakediscord_smoke import running_bot
from tests.fakediscord import FakeDiscord, Overwrite, permissions
from tests.fakediscord.state import FakeChannel

PUBLIC_THREAD = 11


async def test_webhooks_need_manage_webhooks_refuse_names_and_vanish_when_deleted(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        news = rb.bot.get_channel(rb.world.news_id)
        assert isinstance(news, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as refused:
            await news.create_webhook(name="feeds")
        assert refused.value.code == 50013

        fake.set_overwrite(
            news.id, Overwrite.role(rb.world.bot_role_id, allow=permissions.MANAGE_WEBHOOKS)
        )
        await fake.wait_until(lambda: news.permissions_for(news.guild.me).manage_webhooks)
        with pytest.raises(discord.HTTPException) as bad_name:
            await news.create_webhook(name="my discord feed")
        assert bad_name.value.code == 50035
        hook = await news.create_webhook(name="feeds")
        assert [w.id for w in await news.webhooks()] == [hook.id]

        # Executes carry no nonce: the same body twice is two messages.
        posted = [
            await hook.send(
                "hi", username="The Letter", avatar_url="https://x.org/a.png", wait=True
            )
            for _ in range(2)
        ]
        assert posted[0].id != posted[1].id and posted[0].webhook_id == hook.id
        assert posted[0].author.name == "The Letter"
        stored = fake.webhook_posts(news.id)
        assert [(m.webhook_username, m.webhook_avatar_url, m.nonce) for m in stored] == [
            ("The Letter", "https://x.org/a.png", None)
        ] * 2
        with pytest.raises(discord.HTTPException) as bad_username:
            await hook.send("hi", username="Clyde", wait=True)
        assert bad_username.value.code == 50035

        # thread_id: into a thread of the webhook's channel.
        thread_id = fake.state.snowflake()
        fake.state.channels[thread_id] = FakeChannel(
            thread_id, PUBLIC_THREAD, "talk", guild_id=news.guild.id, parent_id=news.id
        )
        in_thread = await hook.send("in the thread", thread=discord.Object(thread_id), wait=True)
        assert in_thread.channel.id == thread_id
        assert [m.content for m in fake.webhook_posts(thread_id)] == ["in the thread"]

        fake.delete_webhook(hook.id)
        with pytest.raises(discord.NotFound) as gone:
            await hook.send("after", wait=True)
        assert gone.value.code == 10015
        assert await news.webhooks() == []
