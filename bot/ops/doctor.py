"""`digestbot doctor`: everything that commonly stops the bot, each problem in words with
what to do. Reads the database without changing it (no migrations)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import discord.http

from bot.config import Settings
from bot.store.maintenance import SchemaReport, integrity_check, schema_report, subscribed_channels

Severity = Literal["ok", "info", "warning", "error"]

MIB = 1024 * 1024
DISK_ERROR_BYTES = 100 * MIB
DISK_WARNING_BYTES = 1024 * MIB

# Discord permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1
_THREAD_TYPES = {10, 11, 12}


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    area: str  # configuration, database, disk, discord
    message: str
    fix: str | None = None

    def render(self) -> str:
        mark = {"ok": "ok", "info": "note", "warning": "WARNING", "error": "ERROR"}[self.severity]
        text = f"[{mark}] {self.area}: {self.message}"
        if self.fix:
            text += f"\n        → {self.fix}"
        return text


def _config_findings(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    token = settings.discord_token
    if token is None:
        found.append(
            Finding(
                "info",
                "configuration",
                "DISCORD_TOKEN is not set: the bot runs in console mode (no Discord).",
                "Set DISCORD_TOKEN to the bot token from the Developer Portal to post to Discord.",
            )
        )
    elif token.lower().startswith("bot ") or any(c.isspace() for c in token):
        found.append(
            Finding(
                "error",
                "configuration",
                "DISCORD_TOKEN contains spaces or starts with 'Bot '.",
                "Set DISCORD_TOKEN to the bare token only (Developer Portal → Bot → Reset Token).",
            )
        )
    elif token.count(".") != 2:
        found.append(
            Finding(
                "warning",
                "configuration",
                "DISCORD_TOKEN does not look like a bot token (three parts separated by dots).",
                "Copy the token from Developer Portal → Bot → Reset Token; not the client "
                "secret or the application id.",
            )
        )
    else:
        found.append(Finding("ok", "configuration", "DISCORD_TOKEN is set."))
    if settings.llm_api_key and not settings.llm_base_url:
        found.append(
            Finding(
                "warning",
                "configuration",
                "DIGESTBOT_LLM_API_KEY is set but AI summaries are off.",
                "Also set DIGESTBOT_LLM_BASE_URL and DIGESTBOT_LLM_MODEL, or remove the key.",
            )
        )
    if settings.poll_interval_s < 60:
        found.append(
            Finding(
                "warning",
                "configuration",
                f"DIGESTBOT_POLL_INTERVAL is {settings.poll_interval_s:g}s: feed hosts may "
                "block a bot that polls this often.",
                "Use 15m (the default) or more outside of tests.",
            )
        )
    if settings.retention_days is not None:
        found.append(
            Finding(
                "info",
                "configuration",
                f"Items older than {settings.retention_days} days are pruned "
                "(DIGESTBOT_RETENTION_DAYS).",
            )
        )
    return found


def _database_findings(path: Path, report: SchemaReport) -> list[Finding]:
    area = "database"
    if not report.exists:
        folder = _existing_ancestor(path.parent)
        if not os.access(folder, os.W_OK):
            return [
                Finding(
                    "error",
                    area,
                    f"{path} does not exist and {folder} is not writable, so it cannot be created.",
                    "Point DIGESTBOT_DB at a writable place (the image uses /data, a volume).",
                )
            ]
        return [Finding("info", area, f"{path} does not exist yet; the bot creates it on start.")]
    if report.error is not None:
        return [
            Finding(
                "error",
                area,
                f"{path} cannot be read as an SQLite database: {report.error}.",
                "Restore the latest backup (made with `digestbot backup`), or point "
                "DIGESTBOT_DB at the right file.",
            )
        ]
    if report.foreign:
        return [
            Finding(
                "error",
                area,
                f"{path} is an SQLite database of another application; digestbot will not "
                "write into it.",
                "Point DIGESTBOT_DB at a new file or at digestbot's own database.",
            )
        ]
    found: list[Finding] = []
    if report.too_new:
        found.append(
            Finding(
                "error",
                area,
                f"The schema version is {report.version}, newer than this digestbot "
                f"(it knows up to {report.code_version}): a newer digestbot wrote this file.",
                "Upgrade digestbot, or restore a backup made by this version.",
            )
        )
    elif report.behind:
        found.append(
            Finding(
                "info",
                area,
                f"The schema version is {report.version}; the next start migrates it to "
                f"{report.code_version}.",
                "Take a backup first: digestbot backup PATH.",
            )
        )
    else:
        found.append(Finding("ok", area, f"Schema version {report.version} matches the code."))
    if report.journal_mode != "wal":
        found.append(
            Finding(
                "warning",
                area,
                f"The journal mode is {report.journal_mode or 'unknown'}, not WAL: readers "
                "and the writer would block each other.",
                "Start the bot once (it switches the file to WAL), and keep other tools from "
                "changing the journal mode.",
            )
        )
    else:
        found.append(Finding("ok", area, "WAL mode is on."))
    problems = integrity_check(path)
    if problems:
        shown = "; ".join(problems[:3]) + (
            f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        found.append(
            Finding(
                "error",
                area,
                f"The integrity check failed: {shown}.",
                "Stop the bot and keep a copy of the file. Then restore the latest backup, or "
                f"salvage what is left: sqlite3 {path} .recover | sqlite3 recovered.db",
            )
        )
    else:
        found.append(Finding("ok", area, "The integrity check passed."))
    return found


def _existing_ancestor(folder: Path) -> Path:
    folder = folder.resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _disk_findings(path: Path) -> list[Finding]:
    folder = _existing_ancestor(path.parent)
    usage = shutil.disk_usage(folder)
    db_bytes = sum(
        p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    free = f"{usage.free / MIB:,.0f} MiB free in {folder}"
    if usage.free < DISK_ERROR_BYTES:
        return [
            Finding(
                "error",
                "disk",
                f"Only {free}: writes (and backups) will fail soon.",
                "Free disk space or move DIGESTBOT_DB to a larger volume.",
            )
        ]
    if usage.free < max(DISK_WARNING_BYTES, 2 * db_bytes):
        return [
            Finding(
                "warning",
                "disk",
                f"{free}; the database takes {db_bytes / MIB:,.1f} MiB.",
                "Keep at least twice the database size free (backups and VACUUM need it); "
                "DIGESTBOT_RETENTION_DAYS prunes old items.",
            )
        ]
    return [Finding("ok", "disk", f"{free}.")]


def channel_permissions(
    *,
    member_id: int,
    member_role_ids: Sequence[int],
    guild_id: int,
    owner_id: int,
    role_permissions: Mapping[int, int],
    overwrites: Sequence[Mapping[str, Any]],
) -> int:
    """A member's permissions in a channel, as Discord computes them (owner, @everyone and
    role permissions, administrator, then @everyone, role and member overwrites)."""
    if member_id == owner_id:
        return ALL_PERMISSIONS
    base = role_permissions.get(guild_id, 0)
    for role_id in member_role_ids:
        base |= role_permissions.get(role_id, 0)
    if base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_id = {int(o["id"]): o for o in overwrites}
    everyone = by_id.get(guild_id)
    if everyone is not None:
        base = (base & ~int(everyone.get("deny", 0))) | int(everyone.get("allow", 0))
    allow = deny = 0
    for role_id in member_role_ids:
        overwrite = by_id.get(role_id)
        if overwrite is not None and int(overwrite.get("type", 0)) == 0:
            allow |= int(overwrite.get("allow", 0))
            deny |= int(overwrite.get("deny", 0))
    base = (base & ~deny) | allow
    mine = by_id.get(member_id)
    if mine is not None and int(mine.get("type", 1)) == 1:
        base = (base & ~int(mine.get("deny", 0))) | int(mine.get("allow", 0))
    return base


class _DiscordREST:
    """The few REST calls the doctor makes, at discord.py's own API base (tests point it at a
    loopback fake)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def get(self, path: str) -> tuple[int, Any]:
        for _ in range(3):
            async with self._session.get(discord.http.Route.BASE + path) as response:
                status = response.status
                try:
                    body: Any = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    body = None
            if status == 429 and isinstance(body, dict):
                await asyncio.sleep(min(float(body.get("retry_after", 1.0)), 5.0))
                continue
            return status, body
        return status, body


async def _discord_findings(settings: Settings, token: str) -> list[Finding]:
    area = "discord"
    headers = {
        "Authorization": f"Bot {token}",
        "User-Agent": "DiscordBot (https://github.com/digestbot/digestbot, doctor)",
    }
    timeout = aiohttp.ClientTimeout(total=15)
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            rest = _DiscordREST(session)
            status, me = await rest.get("/users/@me")
            if status == 401:
                return [
                    Finding(
                        "error",
                        area,
                        "Discord rejected DISCORD_TOKEN (401 Unauthorized).",
                        "Reset the token (Developer Portal → your application → Bot → Reset "
                        "Token) and set DISCORD_TOKEN to the new one.",
                    )
                ]
            if status != 200 or not isinstance(me, dict):
                return [
                    Finding(
                        "warning",
                        area,
                        f"Discord answered {status} when checking the token.",
                        "Try again later; see https://discordstatus.com.",
                    )
                ]
            bot_id = int(me["id"])
            found = [Finding("ok", area, f"The token belongs to {me.get('username')} ({bot_id}).")]
            if not me.get("bot", False):
                found.append(
                    Finding(
                        "error",
                        area,
                        "DISCORD_TOKEN is a user account's token, not a bot's.",
                        "Use the token of the application's bot user (Developer Portal → Bot).",
                    )
                )
            found += await _channel_findings(settings, rest, bot_id)
            return found
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [
            Finding(
                "warning",
                area,
                f"Discord could not be reached ({exc or type(exc).__name__}); the token and "
                "channel permissions were not checked.",
                "Check the machine's network and DNS, or run `digestbot doctor --offline`.",
            )
        ]


async def _channel_findings(settings: Settings, rest: _DiscordREST, bot_id: int) -> list[Finding]:
    area = "discord"
    try:
        channels = await asyncio.to_thread(subscribed_channels, settings.db_path)
    except sqlite3.Error as exc:
        return [Finding("warning", area, f"Subscriptions could not be read: {exc}.")]
    if not channels:
        return [Finding("info", area, "No channel subscribes to a feed yet.")]
    found: list[Finding] = []
    guilds: dict[int, tuple[int, dict[int, int], list[int]] | None] = {}
    for guild_id, channel_id in channels:
        if guild_id not in guilds:
            guilds[guild_id] = await _guild_facts(rest, guild_id, bot_id)
            if guilds[guild_id] is None:
                found.append(
                    Finding(
                        "error",
                        area,
                        f"The bot is not in server {guild_id} any more, which has subscribed "
                        "channels.",
                        "Invite the bot again (README: Inviting the bot), or remove those "
                        "subscriptions.",
                    )
                )
        facts = guilds[guild_id]
        if facts is None:
            continue
        owner_id, roles, member_roles = facts
        status, channel = await rest.get(f"/channels/{channel_id}")
        if status == 404:
            found.append(
                Finding(
                    "error",
                    area,
                    f"Channel {channel_id} (server {guild_id}) no longer exists but has "
                    "subscriptions.",
                    "Remove them with /feed remove (or they stay paused).",
                )
            )
            continue
        if status == 403:
            found.append(
                Finding(
                    "error",
                    area,
                    f"The bot cannot see channel {channel_id} (server {guild_id}).",
                    "Give the bot's role View Channel, Send Messages, Embed Links and Read "
                    "Message History there.",
                )
            )
            continue
        if status != 200 or not isinstance(channel, dict):
            found.append(
                Finding("warning", area, f"Channel {channel_id}: Discord answered {status}.")
            )
            continue
        overwrites = list(channel.get("permission_overwrites") or [])
        send_bit, send_name = SEND_MESSAGES, "Send Messages"
        if int(channel.get("type", 0)) in _THREAD_TYPES and channel.get("parent_id"):
            send_bit, send_name = SEND_MESSAGES_IN_THREADS, "Send Messages in Threads"
            parent_status, parent = await rest.get(f"/channels/{channel['parent_id']}")
            if parent_status == 200 and isinstance(parent, dict):
                overwrites = list(parent.get("permission_overwrites") or [])
        perms = channel_permissions(
            member_id=bot_id,
            member_role_ids=member_roles,
            guild_id=guild_id,
            owner_id=owner_id,
            role_permissions=roles,
            overwrites=overwrites,
        )
        wanted = {
            VIEW_CHANNEL: "View Channel",
            send_bit: send_name,
            EMBED_LINKS: "Embed Links",
            READ_MESSAGE_HISTORY: "Read Message History",
        }
        missing = [name for bit, name in wanted.items() if not perms & bit]
        name = f"#{channel.get('name', channel_id)} ({channel_id})"
        if missing == ["Read Message History"]:
            effect = (
                "a post interrupted by a restart cannot be checked there, so it is not sent "
                "again (it may be missing)."
            )
        else:
            effect = "posts there fail."
        if missing:
            found.append(
                Finding(
                    "error",
                    area,
                    f"In {name} the bot lacks {', '.join(missing)}: {effect}",
                    f"Channel settings → Permissions → the bot's role: allow {', '.join(missing)}.",
                )
            )
        else:
            found.append(Finding("ok", area, f"The bot can post in {name}."))
    return found


async def _guild_facts(
    rest: _DiscordREST, guild_id: int, bot_id: int
) -> tuple[int, dict[int, int], list[int]] | None:
    """(owner id, role id → permissions, the bot's role ids), or None when not a member."""
    status, guild = await rest.get(f"/guilds/{guild_id}")
    if status != 200 or not isinstance(guild, dict):
        return None
    roles_data = guild.get("roles")
    if not isinstance(roles_data, list):
        _, roles_data = await rest.get(f"/guilds/{guild_id}/roles")
    roles = {int(r["id"]): int(r.get("permissions", 0)) for r in roles_data or []}
    status, member = await rest.get(f"/guilds/{guild_id}/members/{bot_id}")
    if status != 200 or not isinstance(member, dict):
        return None
    return int(guild.get("owner_id", 0)), roles, [int(r) for r in member.get("roles", [])]


async def run_doctor(settings: Settings, *, online: bool) -> list[Finding]:
    """Every check, in order: configuration, database, disk, and (online, with a token) the
    token and the bot's permissions in each subscribed channel."""
    findings = _config_findings(settings)
    path = settings.db_path
    report = await asyncio.to_thread(schema_report, path)
    findings += await asyncio.to_thread(_database_findings, path, report)
    findings += await asyncio.to_thread(_disk_findings, path)
    token = settings.discord_token
    if token is not None and not any(
        f.severity == "error" and f.area == "configuration" and "DISCORD_TOKEN" in f.message
        for f in findings
    ):
        if online:
            findings += await _discord_findings(settings, token)
        else:
            findings.append(
                Finding("info", "discord", "Offline: the token and permissions were not checked.")
            )
    return findings
