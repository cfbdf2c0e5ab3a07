r"""A loopback fake of Discord (REST + gateway) that the real discord.py 2.7 client accepts.

Only ``discord.http.Route.BASE`` and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``
change; everything else is discord.py as shipped. The server listens on 127.0.0.1 on a
random port (aiohttp.web).

Starting it
-----------
::

    async with FakeDiscord.serve() as fake:          # start + patch discord.py + stop/restore
        world = fake.state.add_standard_guild()      # before the bot connects
        bot = commands.Bot(..., intents=discord.Intents(guilds=True))
        task = asyncio.create_task(bot.start(fake.token))
        await fake.wait_for_ready()                  # READY sent (on_ready comes
                                                     # guild_ready_timeout later, 2 s default)
        h = await fake.invoke_command(
            "feed add", {"url": "https://x.org", "channel": world.news_id},
            guild_id=world.guild_id, channel_id=world.general_id, user_id=world.admin_id)
        msg = await h.final_message(timeout=5)       # content, embeds, flags, .ephemeral
        posts = await fake.wait_for_messages(world.news_id, 1)
        assert not posts[0].pinged.anyone
        await bot.close(); await task

- ``FakeDiscord(**options)`` + ``await fake.start()`` / ``await fake.stop()`` (also
  ``async with FakeDiscord() as fake``); ``with fake.patch_discord():`` points discord.py in
  this process at it and restores the originals. pytest: ``tests.fakediscord.fixtures``
  defines the ``fake_discord`` fixture (``pytest_plugins = ["tests.fakediscord.fixtures"]``).
- Options: ``token`` ("fake-bot-token"; ``fake.token``), ``bot_name``,
  ``heartbeat_interval_ms`` (41250), ``reject_privileged_intents`` (True: IDENTIFY with
  members/presences/message_content is closed with 4014), ``enforce_rate_limits`` (True),
  ``send_limit``/``send_per`` (5 per 5 s per channel), ``global_limit`` (50/s),
  ``interaction_deadline`` (3 s: a later callback gets 404/10062), ``nonce_window`` (300 s).
- Subprocesses (crash tests): ``env = fake.subprocess_env()`` (adds FAKEDISCORD_API_BASE,
  FAKEDISCORD_GATEWAY, DISCORD_TOKEN) and run ``python -m tests.fakediscord.launch bot run``
  from the repository root; the launcher patches discord.py and runs the module as __main__.
  The fake keeps its state across bot restarts (messages, nonces, commands).

World (``fake.state``: :class:`FakeState`; plain dataclasses, change them freely before connect)
--------------------------------------------------------------------------------------------------
- ``add_standard_guild(name) -> StandardGuild`` ids: guild_id, everyone_role_id, bot_role_id,
  admin_role_id ("Admins", Manage Server), owner_id, admin_id, member_id, closed_dms_id (DMs
  closed → 403/50007), general_id (system channel), news_id, no_view_id, no_send_id,
  no_embed_id, no_history_id (bot denied View Channel / Send Messages / Embed Links / Read
  Message History there), members_role_id. @everyone has no permissions there (people get
  theirs from "Members"), so the bot has exactly ``permissions.DEFAULT_BOT``: what README.md's
  invite asks for (View Channel, Send Messages, Embed Links, Read Message History), no more.
- Builders: ``add_user(name, bot=False, dms_open=True)``, ``add_guild(name, owner_id=,
  everyone_permissions=, bot_permissions=)``, ``add_role(guild_id, name, permissions,
  mentionable=)``, ``add_member(guild_id, user_id, roles=[...])``, ``add_text_channel(guild_id,
  name, overwrites=[Overwrite.role(id, allow=, deny=), Overwrite.member(...)])``.
  ``state.bot`` is the bot user (its id is also the application id). Permission bits are in
  ``tests.fakediscord.permissions`` (VIEW_CHANNEL, SEND_MESSAGES, EMBED_LINKS, MANAGE_GUILD…);
  ``state.permissions_in(channel_id, user_id)`` computes them as Discord does.
- Live changes that also dispatch the gateway event: ``fake.set_overwrite(channel_id, ow)``,
  ``set_role_permissions(guild_id, role_id, perms)``, ``set_member_roles(...)``,
  ``delete_channel(channel_id)`` (later sends → 404/10003), ``add_bot_to_guild(guild_id)``,
  ``remove_bot_from_guild(guild_id)``, ``seed_message(channel_id, author_id, content,
  embeds=, nonce=)`` (a message posted earlier, e.g. by the bot before a crash); any raw
  event: ``fake.dispatch("EVENT", data)``.

Gateway (``fake.gateway``)
--------------------------
HELLO → IDENTIFY (token, intents checked) → READY (guilds as unavailable stubs,
``resume_gateway_url`` = ws://…/resume, ``application``) → one GUILD_CREATE per guild;
heartbeat ACKs; sequence numbers; RESUME replays missed dispatches then RESUMED.
zlib-stream (what discord.py 2.7.1 requests without zstandard) or plain text frames.
Shards: one session per shard (IDENTIFY ``shard: [id, count]``; none = ``[0, 1]``); each
shard's READY/GUILD_CREATEs hold only its guilds (``(guild_id >> 22) % count == id``) and each
guild's events and interactions go to its shard's session (DMs: shard 0); no session for the
shard: the event is logged ``undelivered``. Options ``recommended_shards`` (GET /gateway/bot's
"shards", 1) and ``max_guilds_per_shard`` (None; more on one shard: close 4011); an invalid
shard is closed 4010. ``state.add_standard_guild(shard=(id, count))`` places a guild on a
shard; ``gateway.sessions`` maps (id, count) to sessions; ``gateway.session`` is the lowest.
The controls below take ``shard_id=`` (default: the lowest shard).
Controls: ``fake.drop_connection()`` (abort the TCP socket; the client resumes),
``fake.send_reconnect()`` (op 7), ``fake.invalidate_session(resumable=False)`` (op 9, then a
fresh IDENTIFY — discord.py waits 5 s before re-identifying),
``fake.gateway.available = False`` (refuse new connections: an outage).
Observe: ``fake.gateway.log`` (GatewayEvent kind: connect, identify, ready, resume, resumed
— detail["replayed_events"] —, invalid_session, drop, close, refused, invalid_shard,
sharding_required, undelivered), ``gateway.kinds()``,
``gateway.identify_payloads``, ``gateway.connections`` (path, query, close_code,
server_close_code), ``await fake.wait_for_gateway("resumed", count, timeout)``.

REST (under /api/v10) and the rules it enforces
-----------------------------------------------
Users (@me → 401 on a bad token → LoginFailure), DMs (POST /users/@me/channels), /gateway,
/gateway/bot, /oauth2/applications/@me, application commands (PUT bulk overwrite global and
per guild, ids kept per name; GET/POST/DELETE), channels, messages (GET with
limit/before/after/around newest first, POST JSON or multipart payload_json + files[n],
GET/PATCH/DELETE one), typing, guild/channels/roles/members, channel webhooks
(``tests.fakediscord.webhooks``: create/list need Manage Webhooks, names with
"discord"/"clyde" refused, execute with ``wait``/``thread_id``,
``username``/``avatar_url``, no nonce, 404/10015 once deleted), interaction callbacks (with
``with_response=1`` → {"interaction", "resource"}), follow-ups and @original edits.
Rules: content ≤ 2000, ≤ 10 embeds, embed limits and 6000 in total, http(s) embed URLs
(400/50035 with Discord's nested ``errors``); empty message 400/50006; allowed_mentions
validation (parse ⊆ {everyone, roles, users}; parse + list of one kind → 400/50035); View
Channel (403/50001), Send Messages / Embed Links / Attach Files (403/50013), unknown channel
(404/10003), DMs closed (403/50007); reading history without Read Message History: 200 and an
empty list (Discord's documented behaviour), one message: 403/50001; nonce + enforce_nonce from
the same author (channels and DMs alike) within ``nonce_window`` returns the existing message
instead of posting again, later it is a new message (``advance_time`` moves the window).

Faults and rate limits
----------------------
``fake.faults.rate_limit(pattern, method="POST", count=1, retry_after=0.1, is_global=False,
with_via=True)``, ``fake.faults.fail(pattern, 500, count=1, after_effect=False)``
(``after_effect=True``: Discord acts, then the answer is lost — tests nonce de-duplication),
``fake.faults.delay(pattern, seconds, after_effect=False)`` (``after_effect=True``: the
post is stored, then its answer held: a crash now leaves a post in flight),
``fake.faults.drop(pattern)`` (socket closed without an answer); ``pattern`` is a regex
searched in the path below /api/v10, e.g. ``r"/channels/\d+/messages$"``. Each returns a
:class:`FaultRule` (``.hits``); ``faults.remove(rule)``, ``faults.clear()``.
``count=None`` = until removed.
Note: discord.py retries 429 (with Via), 500, 502, 504 itself; 503 is raised.
Buckets: every response has X-RateLimit-* headers (per-channel send bucket
"message-send"), so discord.py's limiter paces itself; requests over a bucket are answered
429 and recorded: ``fake.ratelimits.violations``, ``channel_violations(channel_id=None)``,
``send_times[channel_id]``, ``max_sends_in_window(channel_id, 5.0)``,
``max_global_in_window``; ``overruns`` (how many requests were outside a bucket),
``request_times`` and ``max_requests_in_window(1.0)`` (the global limit read as a sliding second).

Interactions
------------
``await fake.invoke_command("feed add", {"url": ..., "channel": id}, guild_id=, channel_id=,
user_id=, locale="en-US", respect_default_permissions=False)`` sends INTERACTION_CREATE
type 2 with the synced command's id (generated if not synced), nested options for
subcommands/groups, ``resolved`` users/members/roles/channels (option types from the synced
command; unsynced: wrap ids in UserOpt/ChannelOpt/RoleOpt), member with computed
``permissions``, ``app_permissions``, token, locale, version 1, context 0.
``respect_default_permissions=True`` raises PermissionError when Discord would hide the
command from that member (default_member_permissions).
An attachment option: pass ``AttachmentOpt(filename, data, content_type)``; the fake
resolves it and serves the bytes from its own port (``/cdn/attachments/{id}/{name}``).
``await fake.invoke_autocomplete("feed remove", "feed", {"feed": "inter"}, ...)`` → type 4;
``await fake.invoke_component(message, custom_id, user_id, values=None)`` → type 3 (click
after a short pause: discord.py registers a view only after its send returned).
The :class:`InteractionHandle`: ``await response_type()`` (4/5/6/7/8/9),
``await final_message()`` (the visible answer: callback-4 message, or after a defer the
edited @original / first follow-up, or the component's edited message), ``await
followup(i)``, ``await choices()``, ``await modal()``, ``messages``, ``errors`` (ApiErrors
the bot got, e.g. 10062 too late, 40060 already acknowledged), ``wait_for(pred)``.
Non-ephemeral answers are also channel messages (``interaction_id`` set).

Observation
-----------
``fake.messages(channel_id)`` (visible, oldest first; StoredMessage: id, content, embeds,
components, flags, nonce, allowed_mentions, ``pinged`` — Pinged(everyone, roles, users),
``.anyone`` — attachments, edits, interaction_id), ``fake.bot_posts(channel_id)`` (only the
bot's POST /channels/{id}/messages posts), ``fake.dms(user_id)``, ``fake.message(id)``,
``fake.webhook_posts(channel_id)`` (messages channel webhooks posted: ``webhook_username``,
``webhook_avatar_url``), ``fake.webhooks`` (``of_channel(id)``, ``by_id``),
``fake.delete_webhook(id)`` (an admin removes it: executes get 404/10015),
``fake.requests`` (RequestRecord: method, path, query, body, status, fault),
``fake.requests_matching(method, pattern)``, ``fake.count(method, pattern)``,
``fake.sync_calls`` / ``fake.command_sync_count`` / ``fake.commands(guild_id=None)``,
``fake.advance_time(seconds)`` (expire nonce windows / interaction tokens).
Waiting: every wait takes a timeout and raises FakeDiscordTimeout (an AssertionError):
``wait_until(pred, timeout)``, ``wait_for_messages``, ``wait_for_dms``, ``wait_for_ready``,
``wait_for_sync``, ``wait_for_gateway``.
"""

from __future__ import annotations

from . import permissions
from .errors import ApiError
from .faults import FaultRule
from .gateway import GatewayEvent
from .interactions import AttachmentOpt, ChannelOpt, InteractionHandle, RoleOpt, UserOpt
from .permissions import Overwrite
from .ratelimits import Violation
from .rest import RequestRecord, SyncCall
from .server import FakeDiscord, FakeDiscordTimeout
from .state import FakeState, Pinged, StandardGuild, StoredMessage

__all__ = [
    "ApiError",
    "AttachmentOpt",
    "ChannelOpt",
    "FakeDiscord",
    "FakeDiscordTimeout",
    "FakeState",
    "FaultRule",
    "GatewayEvent",
    "InteractionHandle",
    "Overwrite",
    "Pinged",
    "RequestRecord",
    "RoleOpt",
    "StandardGuild",
    "StoredMessage",
    "SyncCall",
    "UserOpt",
    "Violation",
    "permissions",
]
