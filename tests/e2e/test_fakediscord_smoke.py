"""The real discord.py client against the loopback fake Discord (tests/fakediscord)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import ApiError, FakeDiscord, Pinged, StandardGuild, permissions
from tests.fakediscord.limits import compute_pings, validate_message

pytestmark = pytest.mark.timeout(30)


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord.serve() as fake:
        yield fake


@dataclass
class RunningBot:
    bot: commands.Bot
    world: StandardGuild
    ready: asyncio.Event
    resumed: asyncio.Event
    task: asyncio.Task[None]
    guild_updates: list[str] = field(default_factory=list)


def make_bot() -> commands.Bot:
    intents = discord.Intents.none()
    intents.guilds = True
    return commands.Bot(
        command_prefix="!",
        intents=intents,
        allowed_mentions=discord.AllowedMentions.none(),
        help_command=None,
        guild_ready_timeout=0.1,
    )


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, register: Callable[[commands.Bot], None] | None = None
) -> AsyncIterator[RunningBot]:
    world = fake.state.add_standard_guild()
    bot = make_bot()
    if register is not None:
        register(bot)
    ready, resumed = asyncio.Event(), asyncio.Event()

    @bot.tree.command(name="announce", description="Reply privately and post to a channel")
    @app_commands.describe(text="what to post", channel="where to post it")
    async def announce(
        interaction: discord.Interaction, text: str, channel: discord.TextChannel
    ) -> None:
        await interaction.response.send_message(f"posting to {channel.name}", ephemeral=True)
        target = bot.get_channel(channel.id)
        assert isinstance(target, discord.TextChannel)
        await target.send(text)

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    guild_updates: list[str] = []

    async def on_ready() -> None:
        ready.set()

    async def on_resumed() -> None:
        resumed.set()

    async def on_guild_update(before: discord.Guild, after: discord.Guild) -> None:
        guild_updates.append(after.name)

    for listener in (on_ready, on_resumed, on_guild_update):
        bot.add_listener(listener)
    task = asyncio.create_task(bot.start(fake.token))
    running = RunningBot(bot, world, ready, resumed, task, guild_updates)
    try:
        await asyncio.wait_for(ready.wait(), 5)
        yield running
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running.task, 5)


async def test_bot_connects_syncs_answers_and_posts(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        bot, world = rb.bot, rb.world
        guild = bot.get_guild(world.guild_id)
        assert guild is not None and guild.name == "Test Guild"
        assert guild.me is not None and guild.me.id == fake.state.bot.id
        assert bot.get_channel(world.news_id) is not None
        # discord.py's permission resolution from GUILD_CREATE agrees with the fake's
        for channel in guild.text_channels:
            computed = fake.state.permissions_in(channel.id, fake.state.bot.id)
            assert channel.permissions_for(guild.me).value == computed, channel.name
        # what discord.py asked the gateway for
        assert fake.gateway.identify_payloads[-1]["intents"] == bot.intents.value
        assert fake.gateway.connections[0].query["compress"] == "zlib-stream"
        assert fake.gateway.connections[0].zlib_stream

        await fake.wait_for_sync()
        assert fake.command_sync_count == 1
        assert [c["name"] for c in fake.commands()] == ["announce"]

        handle = await fake.invoke_command(
            "announce",
            {"text": "@everyone free nitro <@&123> <@456>", "channel": world.news_id},
            guild_id=world.guild_id,
            channel_id=world.general_id,
            user_id=world.admin_id,
        )
        answer = await handle.final_message(timeout=5)
        assert answer.content == "posting to news"
        assert answer.ephemeral
        assert fake.messages(world.general_id) == []  # ephemeral: not in the channel

        [post] = await fake.wait_for_messages(world.news_id, 1)
        assert post.content == "@everyone free nitro <@&123> <@456>"
        assert post.allowed_mentions == {"parse": []}
        assert not post.pinged.anyone
        assert post.author_id == fake.state.bot.id


async def test_discord_rules_and_faults_reach_discord_py(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        bot, world = rb.bot, rb.world
        news = bot.get_channel(world.news_id)
        assert isinstance(news, discord.TextChannel)

        with pytest.raises(discord.HTTPException) as too_long:
            await news.send(embed=discord.Embed(title="x" * 257))
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert "title" in str(too_long.value.text) or too_long.value.code == 50035

        for channel_id, code in ((world.no_view_id, 50001), (world.no_send_id, 50013)):
            channel = bot.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            with pytest.raises(discord.Forbidden) as denied:
                await channel.send("hello")
            assert denied.value.code == code
        no_embed = bot.get_channel(world.no_embed_id)
        assert isinstance(no_embed, discord.TextChannel)
        await no_embed.send("plain text is fine")
        with pytest.raises(discord.Forbidden):
            await no_embed.send(embed=discord.Embed(title="but no embeds"))

        rule = fake.faults.rate_limit(r"/channels/\d+/messages$", method="POST", retry_after=0.2)
        before = fake.count("POST", rf"/channels/{world.news_id}/messages$")
        sent = await news.send("after a 429")
        assert rule.hits == 1
        assert fake.count("POST", rf"/channels/{world.news_id}/messages$") == before + 2
        assert [m.id for m in fake.bot_posts(world.news_id)] == [sent.id]

        first = await news.send("once", nonce=424242)
        again = await news.send("once", nonce=424242)
        assert first.id == again.id
        assert len(fake.bot_posts(world.news_id)) == 2

        member = await bot.fetch_user(world.member_id)
        await member.send("hello by DM")
        assert [m.content for m in fake.dms(world.member_id)] == ["hello by DM"]
        closed = await bot.fetch_user(world.closed_dms_id)
        with pytest.raises(discord.Forbidden) as dm_closed:
            await closed.send("hello")
        assert dm_closed.value.code == 50007


async def test_dropped_gateway_resumes_and_replays_then_closes_cleanly(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        assert fake.drop_connection()
        guild = fake.state.guilds[rb.world.guild_id]
        guild.name = "Renamed While Away"
        fake.dispatch("GUILD_UPDATE", fake.state.guild_payload(guild.id))
        await asyncio.wait_for(rb.resumed.wait(), 5)
        resumed = [e for e in fake.gateway.log if e.kind == "resumed"]
        assert len(resumed) == 1
        assert resumed[0].detail["replayed_events"] == ["GUILD_UPDATE"]
        assert fake.gateway.connections[-1].path == "/resume"
        assert fake.gateway.kinds().count("identify") == 1
        await fake.wait_until(lambda: rb.guild_updates == ["Renamed While Away"], 5)
        resumed_guild = rb.bot.get_guild(guild.id)
        assert resumed_guild is not None and resumed_guild.name == "Renamed While Away"
    # bot.close() ended the bot task and said goodbye with a close frame, not a dropped socket
    # (discord.py 2.7.1 sends 4000 there: its reader closes first while close(1000) waits).
    assert rb.task.done() and rb.task.exception() is None
    await fake.wait_for_gateway("close", 2)
    assert fake.gateway.connections[-1].close_code in (1000, 4000)


async def test_bad_token_and_privileged_intents_are_refused(fake_discord: FakeDiscord) -> None:
    bot = make_bot()
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()

    intents = discord.Intents.default()
    intents.members = True
    greedy = commands.Bot(command_prefix="!", intents=intents)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(greedy.start(fake_discord.token), 5)
    await greedy.close()
    assert fake_discord.gateway.connections[-1].server_close_code == 4014


async def test_discord_py_stays_inside_per_channel_buckets() -> None:
    async with FakeDiscord(send_limit=2, send_per=0.4) as fake:
        with fake.patch_discord():
            async with running_bot(fake) as rb:
                news = rb.bot.get_channel(rb.world.news_id)
                assert isinstance(news, discord.TextChannel)
                await asyncio.gather(*(news.send(f"burst {i}") for i in range(5)))
                assert len(fake.bot_posts(rb.world.news_id)) == 5
                assert fake.ratelimits.channel_violations() == []
                assert fake.ratelimits.violations == []


class Confirm(discord.ui.View):
    @discord.ui.button(label="Confirm", custom_id="confirm")
    async def confirm(
        self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]
    ) -> None:
        await interaction.response.edit_message(content="confirmed", view=None)


def feed_commands(view_stored: asyncio.Event) -> Callable[[commands.Bot], None]:
    """The test's /feed commands; `view_stored` is set once /feed remove's answer is sent
    (discord.py stores the answer's view when the send returns: a click works from then)."""

    def register(bot: commands.Bot) -> None:
        register_feed_commands(bot, view_stored)

    return register


def register_feed_commands(bot: commands.Bot, view_stored: asyncio.Event) -> None:
    feed = app_commands.Group(
        name="feed",
        description="Manage feeds",
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @feed.command(name="add", description="Subscribe a channel")
    async def add(
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel,
        mention: discord.Role | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        perms = interaction.permissions.manage_guild
        who = mention.name if mention else "nobody"
        await interaction.followup.send(f"{url} -> #{channel.name}, ping {who}, admin={perms}")

    @feed.command(name="remove", description="Unsubscribe")
    async def remove(interaction: discord.Interaction, feed_name: str) -> None:
        await interaction.response.send_message(f"removed {feed_name}", view=Confirm())
        view_stored.set()

    @remove.autocomplete("feed_name")
    async def feed_names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["interconnects", "import-ai", "latent-space"]
        return [app_commands.Choice(name=n, value=n) for n in names if current in n]

    bot.tree.add_command(feed)


async def test_subcommands_defer_followup_autocomplete_and_buttons(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    view_stored = asyncio.Event()
    async with running_bot(fake, feed_commands(view_stored)) as rb:
        world = rb.world
        await fake.wait_for_sync()
        feed = next(c for c in fake.commands() if c["name"] == "feed")
        assert feed["default_member_permissions"] == str(
            discord.Permissions(manage_guild=True).value
        )
        gid, cid = world.guild_id, world.general_id

        added = await fake.invoke_command(
            "feed add",
            {
                "url": "https://example.org/feed",
                "channel": world.news_id,
                "mention": world.admin_role_id,
            },
            user_id=world.admin_id,
            guild_id=gid,
            channel_id=cid,
        )
        assert await added.response_type() == 5
        answer = await added.final_message()
        assert answer.ephemeral and not answer.loading
        assert answer.content == "https://example.org/feed -> #news, ping Admins, admin=True"

        with pytest.raises(PermissionError):
            await fake.invoke_command(
                "feed add",
                {"url": "x", "channel": world.news_id},
                user_id=world.member_id,
                respect_default_permissions=True,
                guild_id=gid,
                channel_id=cid,
            )

        typed = await fake.invoke_autocomplete(
            "feed remove",
            "feed_name",
            {"feed_name": "i"},
            user_id=world.member_id,
            guild_id=gid,
            channel_id=cid,
        )
        assert [c["value"] for c in await typed.choices()] == ["interconnects", "import-ai"]

        removed = await fake.invoke_command(
            "feed remove",
            {"feed_name": "import-ai"},
            user_id=world.admin_id,
            guild_id=gid,
            channel_id=cid,
        )
        reply = await removed.final_message()
        assert reply.content == "removed import-ai" and not reply.ephemeral
        assert reply.components and reply.components[0]["components"][0]["custom_id"] == "confirm"
        assert fake.messages(world.general_id) == [reply]
        await asyncio.wait_for(view_stored.wait(), 5)  # the view is stored: a click works
        click = await fake.invoke_component(reply, "confirm", world.admin_id)
        assert await click.response_type() == 7
        edited = await click.final_message()
        assert edited.id == reply.id and edited.content == "confirmed" and edited.components == []


async def test_lost_answer_is_retried_and_nonce_prevents_a_double_post(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        news = rb.bot.get_channel(rb.world.news_id)
        assert isinstance(news, discord.TextChannel)
        rule = fake.faults.fail(r"/channels/\d+/messages$", 500, method="POST", after_effect=True)
        sent = await news.send("exactly once", nonce="delivery-17")
        assert rule.hits == 1
        assert fake.count("POST", r"/channels/\d+/messages$") == 2
        assert [m.id for m in fake.bot_posts(news.id)] == [sent.id]

        fake.advance_time(301)  # past Discord's nonce window a repeat is a new message
        await news.send("exactly once", nonce="delivery-17")
        assert len(fake.bot_posts(news.id)) == 2

        with pytest.raises(aiohttp.ClientError):
            fake.faults.drop(r"/channels/\d+/messages$", method="POST")
            await news.send("lost on the wire")
        assert len(fake.bot_posts(news.id)) == 2


async def test_history_edit_delete_and_files(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        news = rb.bot.get_channel(rb.world.news_id)
        assert isinstance(news, discord.TextChannel)
        seeded = fake.seed_message(news.id, rb.world.member_id, "posted before the bot came")
        sent = [await news.send(f"item {i}") for i in range(3)]
        everything = [m async for m in news.history(limit=10, oldest_first=True)]
        assert [m.id for m in everything] == [seeded.id] + [m.id for m in sent]
        assert everything[0].author.id == rb.world.member_id
        newest = [m.content async for m in news.history(limit=2)]
        assert newest == ["item 2", "item 1"]
        after = [m.content async for m in news.history(after=sent[0], oldest_first=True)]
        assert after == ["item 1", "item 2"]

        await sent[0].edit(content="item 0 (edited)")
        await sent[1].delete()
        assert [m.content for m in fake.bot_posts(news.id)] == ["item 0 (edited)", "item 2"]
        # The README's permissions do not include Attach Files: Discord refuses the file.
        with pytest.raises(discord.Forbidden):
            await news.send(file=discord.File(io.BytesIO(b"no"), "b.txt"))
        extra = permissions.DEFAULT_BOT | permissions.ATTACH_FILES | permissions.MENTION_EVERYONE
        fake.set_role_permissions(rb.world.guild_id, rb.world.bot_role_id, extra)
        with_file = await news.send(
            "@everyone a file",
            file=discord.File(io.BytesIO(b"hello"), "a.txt"),
            allowed_mentions=discord.AllowedMentions(everyone=True),
        )
        stored = fake.message(with_file.id)
        assert stored is not None and stored.attachments[0].data == b"hello"
        assert with_file.attachments[0].filename == "a.txt"
        assert stored.pinged.everyone and stored.allowed_mentions == {"parse": ["everyone"]}


async def test_gateway_reconnect_opcode_resumes(fake_discord: FakeDiscord) -> None:
    # (op 9 INVALID_SESSION is not exercised here: discord.py waits 5 s before it re-identifies)
    fake = fake_discord
    async with running_bot(fake) as rb:
        assert fake.send_reconnect()
        await asyncio.wait_for(rb.resumed.wait(), 5)
        assert fake.gateway.kinds().count("identify") == 1
        assert fake.gateway.connections[-1].path == "/resume"


async def test_late_interaction_answer_gets_unknown_interaction(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with running_bot(fake) as rb:
        handle = await fake.invoke_command(
            "announce",
            {"text": "late", "channel": rb.world.news_id},
            guild_id=rb.world.guild_id,
            channel_id=rb.world.general_id,
            user_id=rb.world.admin_id,
        )
        fake.advance_time(3.5)
        await handle.wait_for(lambda h: bool(h.errors))
        assert handle.errors[0].code == 10062
        assert handle.record.original is None


def test_allowed_mentions_rules_and_ping_computation() -> None:
    with pytest.raises(ApiError) as both:
        validate_message({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}})
    assert both.value.code == 50035
    with pytest.raises(ApiError):
        validate_message({"content": "x", "allowed_mentions": {"parse": ["here"]}})
    with pytest.raises(ApiError) as empty:
        validate_message({"content": "   "})
    assert empty.value.code == 50006
    with pytest.raises(ApiError):
        validate_message(
            {"embeds": [{"title": "t", "fields": [{"name": "n", "value": "v" * 1025}]}]}
        )
    with pytest.raises(ApiError):
        validate_message({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]})

    text = "@everyone <@&5> <@&6> <@7> <@!8>"
    everything = compute_pings(
        text, None, guild_role_ids=[5, 6], mentionable_role_ids=[5], can_mention_everyone=False
    )
    assert everything == Pinged(everyone=False, roles=(5,), users=(7, 8))
    opted_in = compute_pings(
        text,
        {"parse": [], "roles": ["6"]},
        guild_role_ids=[5, 6],
        mentionable_role_ids=[5],
        can_mention_everyone=True,
    )
    assert opted_in == Pinged(everyone=False, roles=(6,), users=())
    assert not compute_pings(
        text,
        {"parse": []},
        guild_role_ids=[5, 6],
        mentionable_role_ids=[5, 6],
        can_mention_everyone=True,
    ).anyone
