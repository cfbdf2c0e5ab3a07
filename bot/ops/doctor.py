"""`digestbot doctor`: everything that commonly stops the bot, each problem in words with
what to do. Reads the database without changing it (no migrations)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import aiohttp
import discord

from bot.config import Settings
from bot.i18n import N_, _, ngettext
from bot.store.maintenance import SchemaReport, integrity_check, schema_report, subscribed_channels
from bot.store.postgres import PgReport, pg_report

Severity = Literal["ok", "info", "warning", "error"]

MIB = 1024 * 1024
DISK_ERROR_BYTES = 100 * MIB
DISK_WARNING_BYTES = 1024 * MIB

# What the operator reads for a severity and an area; the Finding keeps the English key.
MARKS: dict[Severity, str] = {
    "ok": N_("ok"),
    "info": N_("note"),
    "warning": N_("WARNING"),
    "error": N_("ERROR"),
}
AREAS = {
    "configuration": N_("configuration"),
    "database": N_("database"),
    "disk": N_("disk"),
    "discord": N_("discord"),
    "leases": N_("leases"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    message: str
    fix: str | None = None
    area: str = ""  # a key of AREAS (shown translated), set by run_doctor for each check

    def render(self) -> str:
        mark = _(MARKS[self.severity])
        area = _(AREAS[self.area]) if self.area in AREAS else self.area
        text = _("[{mark}] {area}: {message}", mark=mark, area=area, message=self.message)
        if self.fix:
            text += f"\n        → {self.fix}"
        return text


def _config_findings(settings: Settings) -> Iterator[Finding]:
    token = settings.discord_token
    if token is None:
        yield Finding(
            "info",
            _("DISCORD_TOKEN is not set: the bot runs in console mode (no Discord)."),
            _("Set DISCORD_TOKEN to the bot token from the Developer Portal to post to Discord."),
        )
    elif token.lower().startswith("bot ") or any(c.isspace() for c in token):
        yield Finding(
            "error",
            _("DISCORD_TOKEN contains spaces or starts with 'Bot '."),
            _("Set DISCORD_TOKEN to the bare token only (Developer Portal → Bot → Reset Token)."),
        )
    elif token.count(".") != 2:
        yield Finding(
            "warning",
            _("DISCORD_TOKEN does not look like a bot token (three parts separated by dots)."),
            _(
                "Copy the token from Developer Portal → Bot → Reset Token; not the client "
                "secret or the application id."
            ),
        )
    else:
        yield Finding("ok", _("DISCORD_TOKEN is set."))
    if settings.llm_api_key and not settings.llm_base_url:
        yield Finding(
            "warning",
            _("DIGESTBOT_LLM_API_KEY is set but AI summaries are off."),
            _("Also set DIGESTBOT_LLM_BASE_URL and DIGESTBOT_LLM_MODEL, or remove the key."),
        )
    if settings.poll_interval_s < 60:
        yield Finding(
            "warning",
            _(
                "DIGESTBOT_POLL_INTERVAL is {seconds}s: feed hosts may block a bot that "
                "polls this often.",
                seconds=f"{settings.poll_interval_s:g}",
            ),
            _("Use 15m (the default) or more outside of tests."),
        )
    if settings.retention_days is not None:
        yield Finding(
            "info",
            ngettext(
                "Items older than {count} day are pruned (DIGESTBOT_RETENTION_DAYS).",
                "Items older than {count} days are pruned (DIGESTBOT_RETENTION_DAYS).",
                settings.retention_days,
            ),
        )


def _database_findings(path: Path, report: SchemaReport) -> Iterator[Finding]:
    if not report.exists:
        folder = _existing_ancestor(path.parent)
        if not os.access(folder, os.W_OK):
            yield Finding(
                "error",
                _(
                    "{path} does not exist and {folder} is not writable, so it cannot be created.",
                    path=path,
                    folder=folder,
                ),
                _("Point DIGESTBOT_DB at a writable place (the image uses /data, a volume)."),
            )
        else:
            yield Finding(
                "info",
                _("{path} does not exist yet; the bot creates it on start.", path=path),
            )
        return
    if report.error is not None:
        yield Finding(
            "error",
            _(
                "{path} cannot be read as an SQLite database: {error}.",
                path=path,
                error=report.error,
            ),
            _(
                "Restore the latest backup (made with `digestbot backup`), or point "
                "DIGESTBOT_DB at the right file."
            ),
        )
        return
    if report.foreign:
        yield Finding(
            "error",
            _(
                "{path} is an SQLite database of another application; digestbot will not "
                "write into it.",
                path=path,
            ),
            _("Point DIGESTBOT_DB at a new file or at digestbot's own database."),
        )
        return
    if report.too_new:
        yield Finding(
            "error",
            _(
                "The schema version is {version}, newer than this digestbot (it knows up to "
                "{code_version}): a newer digestbot wrote this file.",
                version=report.version,
                code_version=report.code_version,
            ),
            _("Upgrade digestbot, or restore a backup made by this version."),
        )
    elif report.behind:
        yield Finding(
            "info",
            _(
                "The schema version is {version}; the next start migrates it to {code_version}.",
                version=report.version,
                code_version=report.code_version,
            ),
            _("Take a backup first: digestbot backup PATH."),
        )
    else:
        yield Finding("ok", _("Schema version {version} matches the code.", version=report.version))
    if report.journal_mode != "wal":
        mode = report.journal_mode or _("unknown")
        yield Finding(
            "warning",
            _(
                "The journal mode is {mode}, not WAL: readers and the writer would block "
                "each other.",
                mode=mode,
            ),
            _(
                "Start the bot once (it switches the file to WAL), and keep other tools from "
                "changing the journal mode."
            ),
        )
    else:
        yield Finding("ok", _("WAL mode is on."))
    problems = integrity_check(path)
    if problems:
        shown = "; ".join(problems[:3]) + (
            ngettext(" (and {count} more)", " (and {count} more)", len(problems) - 3)
            if len(problems) > 3
            else ""
        )
        yield Finding(
            "error",
            _("The integrity check failed: {problems}.", problems=shown),
            _(
                "Stop the bot and keep a copy of the file. Then restore the latest backup, or "
                "salvage what is left: sqlite3 {path} .recover | sqlite3 recovered.db",
                path=path,
            ),
        )
    else:
        yield Finding("ok", _("The integrity check passed."))


def _postgres_findings(report: PgReport) -> Iterator[Finding]:
    database = report.shown
    if report.error is not None:
        yield Finding(
            "error",
            _(
                "cannot reach the PostgreSQL database {database}: {error}",
                database=database,
                error=report.error,
            ),
            _("Check that the server runs and that DIGESTBOT_DB names it, its user and password."),
        )
    elif report.version is None and report.tables:
        yield Finding(
            "error",
            _("{database} holds tables of another application.", database=database),
            _("Point DIGESTBOT_DB at an empty PostgreSQL database."),
        )
    elif report.version is None:
        yield Finding(
            "info", _("{database} is empty; the bot creates its tables.", database=database)
        )
    elif report.version > report.code_version:
        yield Finding(
            "error",
            _(
                "{database} has schema version {version}, newer than this digestbot "
                "knows ({code_version}).",
                database=database,
                version=report.version,
                code_version=report.code_version,
            ),
            _("Upgrade digestbot, or restore a dump made by this version."),
        )
    elif report.version < report.code_version:
        yield Finding(
            "info",
            _(
                "PostgreSQL {database}, schema version {version}; the bot migrates it to "
                "{code_version}.",
                database=database,
                version=report.version,
                code_version=report.code_version,
            ),
        )
    else:
        yield Finding(
            "ok",
            _(
                "PostgreSQL {database}, schema version {version}, reachable.",
                database=database,
                version=report.version,
            ),
        )


def _lease_findings(report: PgReport) -> Iterator[Finding]:
    """The feed leases of the processes sharing the database: who polls what now, and the
    leases of a process that stopped mid-poll (taken over when they expire)."""
    if report.error is not None or not report.version:
        return
    held = sum(lease.held for lease in report.leases)
    holders = sum(1 for lease in report.leases if lease.held)
    yield Finding(
        "ok",
        _(
            "{leases} held now by {processes}.",
            leases=ngettext("{count} feed lease", "{count} feed leases", held),
            processes=ngettext("{count} process", "{count} processes", holders),
        ),
    )
    if expired := [lease for lease in report.leases if lease.expired]:
        names = ", ".join(f"{lease.holder} ({lease.expired})" for lease in expired)
        yield Finding(
            "warning",
            _("Expired feed leases of a process that stopped while polling: {names}.", names=names),
            _(
                "A running digestbot takes these feeds over at its next poll; if none "
                "runs, start one."
            ),
        )


def _existing_ancestor(folder: Path) -> Path:
    resolved = folder.resolve()
    return next(path for path in (resolved, *resolved.parents) if path.exists())


def _disk_findings(path: Path) -> Iterator[Finding]:
    folder = _existing_ancestor(path.parent)
    usage = shutil.disk_usage(folder)
    db_bytes = sum(
        p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    free = f"{usage.free / MIB:,.0f}"
    if usage.free < DISK_ERROR_BYTES:
        yield Finding(
            "error",
            _(
                "Only {free} MiB free in {folder}: writes (and backups) will fail soon.",
                free=free,
                folder=folder,
            ),
            _("Free disk space or move DIGESTBOT_DB to a larger volume."),
        )
    elif usage.free < max(DISK_WARNING_BYTES, 2 * db_bytes):
        yield Finding(
            "warning",
            _(
                "{free} MiB free in {folder}; the database takes {size} MiB.",
                free=free,
                folder=folder,
                size=f"{db_bytes / MIB:,.1f}",
            ),
            _(
                "Keep at least twice the database size free (backups and VACUUM need it); "
                "DIGESTBOT_RETENTION_DAYS prunes old items."
            ),
        )
    else:
        yield Finding("ok", _("{free} MiB free in {folder}.", free=free, folder=folder))


async def _discord_findings(settings: Settings, token: str) -> AsyncIterator[Finding]:
    """The token and each subscribed channel, asked through discord.py's own HTTP client (no
    gateway) and judged with discord.py's own permission calculation."""
    client = discord.Client(intents=discord.Intents.none())
    try:
        try:
            await asyncio.wait_for(client.login(token), 30)
        except discord.LoginFailure:
            yield Finding(
                "error",
                _("Discord rejected DISCORD_TOKEN (401 Unauthorized)."),
                _(
                    "Reset the token (Developer Portal → your application → Bot → Reset "
                    "Token) and set DISCORD_TOKEN to the new one."
                ),
            )
            return
        except discord.HTTPException as exc:
            yield Finding(
                "warning",
                _("Discord answered {status} when checking the token.", status=exc.status),
                _("Try again later; see https://discordstatus.com."),
            )
            return
        me = client.user
        assert me is not None  # set by a successful login
        yield Finding("ok", _("The token belongs to {name} ({id}).", name=me.name, id=me.id))
        if not me.bot:
            yield Finding(
                "error",
                _("DISCORD_TOKEN is a user account's token, not a bot's."),
                _("Use the token of the application's bot user (Developer Portal → Bot)."),
            )
        async for finding in _channel_findings(settings, client, me.id):
            yield finding
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        yield Finding(
            "warning",
            _(
                "Discord could not be reached ({error}); the token and channel permissions "
                "were not checked.",
                error=exc or type(exc).__name__,
            ),
            _("Check the machine's network and DNS, or run `digestbot doctor --offline`."),
        )
    finally:
        await client.close()


# A guild as discord.py fetched it: the bot as its member, and its channels.
_Guild = tuple[discord.Member, Mapping[int, discord.abc.GuildChannel]]


async def _channel_findings(
    settings: Settings, client: discord.Client, my_id: int
) -> AsyncIterator[Finding]:
    try:
        if settings.db_url is not None:
            channels = list((await pg_report(settings.db_url)).channels)
        else:
            channels = await asyncio.to_thread(subscribed_channels, settings.db_path)
    except sqlite3.Error as exc:
        yield Finding("warning", _("Subscriptions could not be read: {error}.", error=exc))
        return
    if not channels:
        yield Finding("info", _("No channel subscribes to a feed yet."))
    guilds: dict[int, _Guild | None] = {}
    for guild_id, channel_id in channels:
        if guild_id not in guilds:
            try:  # None when the bot is not a member of the guild
                guild = await client.fetch_guild(guild_id)
                member = await guild.fetch_member(my_id)
                fetched = {channel.id: channel for channel in await guild.fetch_channels()}
                guilds[guild_id] = (member, fetched)
            except (discord.Forbidden, discord.NotFound):
                guilds[guild_id] = None
                yield Finding(
                    "error",
                    _(
                        "The bot is not in server {server} any more, which has subscribed "
                        "channels.",
                        server=guild_id,
                    ),
                    _(
                        "Invite the bot again (README: Running it on Discord), or remove "
                        "those subscriptions."
                    ),
                )
        known = guilds[guild_id]
        if known is not None:
            yield await _channel_finding(client, known, channel_id)


async def _channel_finding(client: discord.Client, guild: _Guild, channel_id: int) -> Finding:
    me, channels = guild
    where = _("server {server}", server=me.guild.id)
    channel = channels.get(channel_id)
    thread: discord.Thread | None = None
    if channel is None:  # a thread, or a channel that no longer exists
        try:
            fetched = await client.fetch_channel(channel_id)
        except discord.NotFound:
            return Finding(
                "error",
                _(
                    "Channel {channel} ({where}) no longer exists but has subscriptions.",
                    channel=channel_id,
                    where=where,
                ),
                _("Remove them with /feed remove (or they stay paused)."),
            )
        except discord.Forbidden:
            fetched = None
        if isinstance(fetched, discord.Thread):
            thread = fetched
            channel = channels.get(fetched.parent_id)
    if channel is None or not (perms := channel.permissions_for(me)).view_channel:
        return Finding(
            "error",
            _("The bot cannot see channel {channel} ({where}).", channel=channel_id, where=where),
            _(
                "Give the bot's role View Channel, Send Messages, Embed Links and Read Message "
                "History there."
            ),
        )
    wanted = [
        ("send_messages_in_threads", N_("Send Messages in Threads"))
        if thread
        else ("send_messages", N_("Send Messages")),
        ("embed_links", N_("Embed Links")),
        ("read_message_history", N_("Read Message History")),
    ]
    missing = [name for attr, name in wanted if not getattr(perms, attr)]
    name = f"#{(thread or channel).name} ({channel_id})"
    if not missing:
        return Finding("ok", _("The bot can post in {channel}.", channel=name))
    if missing == ["Read Message History"]:
        effect = _(
            "a post interrupted by a restart cannot be checked there, so it is not sent "
            "again (it may be missing)."
        )
    else:
        effect = _("posts there fail.")
    permissions = _(", ").join(_(permission) for permission in missing)
    return Finding(
        "error",
        _(
            "In {channel} the bot lacks {permissions}: {effect}",
            channel=name,
            permissions=permissions,
            effect=effect,
        ),
        _(
            "Channel settings → Permissions → the bot's role: allow {permissions}.",
            permissions=permissions,
        ),
    )


async def run_doctor(settings: Settings, *, online: bool) -> list[Finding]:
    """Every check, in order: configuration, database, disk, and (online, with a token) the
    token and the bot's permissions in each subscribed channel."""
    findings = _in("configuration", _config_findings(settings))
    # The one configuration error is a malformed token: Discord is not asked about it then.
    token = None if any(f.severity == "error" for f in findings) else settings.discord_token
    if settings.db_url is not None:
        pg = await pg_report(settings.db_url)
        findings += _in("database", _postgres_findings(pg)) + _in("leases", _lease_findings(pg))
    else:
        path = settings.db_path
        report = await asyncio.to_thread(schema_report, path)
        findings += await asyncio.to_thread(_in, "database", _database_findings(path, report))
        findings += await asyncio.to_thread(_in, "disk", _disk_findings(path))
    if token is None:
        return findings
    if online:
        return findings + _in("discord", [f async for f in _discord_findings(settings, token)])
    offline = Finding("info", _("Offline: the token and permissions were not checked."))
    return findings + _in("discord", [offline])


def _in(area: str, findings: Iterable[Finding]) -> list[Finding]:
    """The findings of one area (a generator's checks run here, on the calling thread)."""
    return [replace(finding, area=area) for finding in findings]
