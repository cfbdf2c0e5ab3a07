"""The discord.py bot: opens the runtime in setup_hook, loads the cogs, closes in order."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import ShardPlan
from bot.delivery.budget import request_trace
from bot.delivery.discord_message import answer
from bot.delivery.discord_sender import DiscordSender
from bot.delivery.discord_webhooks import WebhookPoster
from bot.discord_locale import CommandTranslator, member_locale
from bot.i18n import N_, _, preload_catalogues, set_locale
from bot.model import Message
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Loaded by name (the app imports no cog: cogs sit below it and may be reloaded).
COG_MODULES = (
    "cogs.feeds",
    "cogs.search",
    "cogs.follow",
    "cogs.digest",
    "cogs.why",
    "cogs.related",
    "cogs.language",
)
COMMANDS_HASH_KEY = "commands_hash:global"
COMMAND_FAILED = N_("Sorry, something went wrong with that command. Please try again.")
TOKEN_REFUSED = "digestbot: configuration error: DISCORD_TOKEN was refused by Discord"
# Gateway close codes that mean DIGESTBOT_SHARDS does not fit the bot (never retried).
SHARDS_REFUSED = {
    4010: "DIGESTBOT_SHARDS: Discord refused the shard (4010 Invalid shard); check the count",
    4011: "DIGESTBOT_SHARDS: Discord requires more shards for this many servers "
    "(4011 Sharding required); use auto or a larger count",
}
EXIT_OK = 0
EXIT_CONFIG = 78  # as bot.__main__'s: systemd does not restart the bot into the same mistake


class DigestCommandTree(app_commands.CommandTree["DigestBot"]):
    """The slash commands. A command that fails unexpectedly is logged and answered once,
    politely (deferred or not); the member never sees the error itself. A failed check
    (cogs._common.GuildCog) has answered already. Every command (and autocomplete) runs in
    the member's language: its task's locale is set before the command runs (bot.i18n)."""

    async def interaction_check(self, interaction: discord.Interaction[DigestBot], /) -> bool:
        set_locale(member_locale(interaction))
        return True

    async def on_error(
        self, interaction: discord.Interaction[DigestBot], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CheckFailure):
            return
        command = interaction.command
        name = command.qualified_name if command is not None else "?"
        log.error("command /%s failed", name, exc_info=error)
        try:
            await answer(interaction, Message(content=_(COMMAND_FAILED)))
        except discord.HTTPException as exc:  # e.g. the interaction expired meanwhile
            log.warning("could not tell the member that /%s failed: %s", name, exc)


def shard_options(shards: ShardPlan) -> dict[str, Any]:
    """AutoShardedBot's shard_ids and shard_count for a fixed plan; none for `auto` (discord.py
    then asks GET /gateway/bot how many shards Discord recommends and runs them all)."""
    if shards.count is None:
        return {}
    return {"shard_ids": list(shards.ids), "shard_count": shards.count}


class DigestBot(commands.AutoShardedBot):
    """The Discord side of digestbot. Every feature lives in the runtime and the cogs.

    It runs the gateway shards DIGESTBOT_SHARDS names: all of them (as many as Discord's
    GET /gateway/bot recommends), or the listed ids of a fixed count. Discord sends each
    guild's events and commands to the shard that holds it, so this process answers the
    commands of its shards' guilds only. With `none` it never connects to the gateway: it
    logs in over REST (`run_discord`), polls and delivers, and answers no command.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        commands_only: bool = False,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),  # no privileged intent, no message content
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=DigestCommandTree,
            guild_ready_timeout=guild_ready_timeout,
            http_trace=request_trace(runtime.budget),  # every request spends the budget
            **shard_options(runtime.settings.shards),
        )
        self.runtime = runtime
        self.uses_gateway = runtime.settings.shards.gateway
        if self.uses_gateway:
            runtime.gateway_connected = lambda: self.is_ready() and not self.is_closed()
        self._commands_only = commands_only  # load the cogs, start and sync nothing
        # Names and descriptions in every catalogue language (bot.discord_locale).
        self.command_translator: app_commands.Translator = CommandTranslator()

    async def setup_hook(self) -> None:
        await asyncio.to_thread(preload_catalogues)  # off the event loop (bot.i18n)
        await self.tree.set_translator(self.command_translator)
        if not self._commands_only:
            store = self.runtime.store
            self.runtime.attach_sender(
                DiscordSender(
                    self,
                    dm_channels=store.topics,
                    webhooks=WebhookPoster(self, store.webhooks),
                    gateway=self.uses_gateway,
                )
            )
            await self.runtime.start()
        for module in COG_MODULES:
            await self.load_extension(module)
        if self.uses_gateway and not self._commands_only:  # a worker leaves it to them
            try:
                await self.sync_commands_if_changed()
            except discord.HTTPException as exc:
                # Polling and delivery must not wait for Discord's command API: the old
                # commands keep working, and the hash is not stored, so the next start retries.
                log.warning("could not sync slash commands (retried at next start): %s", exc)

    async def command_payload_hash(self) -> str:
        """The hash of what a sync would register, translations included (a changed
        catalogue is a changed payload)."""
        translator = self.tree.translator
        payload = [
            await command.get_translated_payload(self.tree, translator)
            if translator is not None
            else command.to_dict(self.tree)
            for command in self.tree.get_commands()
        ]
        encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()

    async def sync_commands_if_changed(self) -> None:
        """Sync the global commands only when their payload changed since the last sync."""
        digest = await self.command_payload_hash()
        if await self.runtime.store.state.get(COMMANDS_HASH_KEY) == digest:
            log.info("slash commands unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.runtime.store.state.set(COMMANDS_HASH_KEY, digest)
        log.info("synced %d slash command(s)", len(synced))

    async def close(self) -> None:
        await self.runtime.close()
        await super().close()


async def run_discord(runtime: Runtime, token: str) -> int:
    """Run until SIGTERM/SIGINT or a fatal error; return the process exit code."""
    bot = DigestBot(runtime)
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []
    stopping = asyncio.Event()

    def request_stop() -> None:
        log.info("stopping (signal received)")
        stopping.set()
        if not closing:
            closing.append(loop.create_task(bot.close()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    try:
        async with bot:
            if bot.uses_gateway:
                await bot.start(token)
            else:
                await bot.login(token)  # runs setup_hook: polling and delivery start
                log.info("worker: no gateway connection (DIGESTBOT_SHARDS=none)")
                await stopping.wait()
    except discord.LoginFailure:
        print(TOKEN_REFUSED, flush=True)
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        print("digestbot: configuration error: Discord refused the intents", flush=True)
        return EXIT_CONFIG
    except discord.ConnectionClosed as exc:
        if exc.code not in SHARDS_REFUSED:
            raise
        print(f"digestbot: configuration error: {SHARDS_REFUSED[exc.code]}", flush=True)
        return EXIT_CONFIG
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runtime.close()
        if closing:
            await closing[0]
    return EXIT_OK


async def sync_commands(runtime: Runtime, token: str, guild_id: int | None) -> int:
    """Log in over HTTP only, sync the slash commands (to one guild, or globally), exit."""
    bot = DigestBot(runtime, commands_only=True)
    try:
        async with bot:
            await bot.login(token)  # runs setup_hook: the cogs are loaded, nothing is started
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
            else:
                synced = await bot.tree.sync()
                await runtime.store.state.set(COMMANDS_HASH_KEY, await bot.command_payload_hash())
            print(f"Synced {len(synced)} command(s).", flush=True)
    except discord.LoginFailure:
        print(TOKEN_REFUSED, flush=True)
        return EXIT_CONFIG
    finally:
        await runtime.close()
    return EXIT_OK
