"""The fake gateway: HELLO → IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME.

One session per shard, as Discord does: IDENTIFY's ``shard: [id, count]`` (absent means
``[0, 1]``) names it, READY and the GUILD_CREATEs carry only the guilds with
``(guild_id >> 22) % count == id``, and every guild event (and INTERACTION_CREATE) goes to
the session of its guild's shard; events without a guild (DMs) go to shard 0. A shard that
is not ``0 <= id < count`` is closed with 4010 "Invalid shard"; with ``max_guilds_per_shard``
set, a shard that would hold more guilds is closed with 4011 "Sharding required". A second
IDENTIFY of the same shard replaces its session. Every dispatch gets the session's next
sequence number and is kept in its buffer so a RESUME replays what the client missed.
Frames are sent by one writer task per connection, in order, as zlib-stream binary frames
(one zlib stream per connection, each message flushed with Z_SYNC_FLUSH) when the client
asked for ``compress=zlib-stream``, and as text frames otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .state import FakeState

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
KNOWN_INTENTS = (1 << 26) - 1 & ~((1 << 17) | (1 << 18) | (1 << 19) | (1 << 23))


@dataclass
class GatewayEvent:
    """One thing that happened on the gateway, for assertions (``fake.gateway.log``)."""

    # connect, identify, ready, resume, resumed, invalid_session, close, drop, refused,
    # invalid_shard (4010), sharding_required (4011), undelivered (no session holds its shard)
    kind: str
    connection: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Close:
    code: int
    reason: str


Outgoing = dict[str, Any] | _Close | None


@dataclass
class GatewayConnection:
    id: int
    path: str
    query: dict[str, str]
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    zlib_stream: bool
    queue: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    close_code: int | None = None
    server_close_code: int | None = None
    frames_sent: int = 0


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    shard: list[int] | None  # as the client sent it (None: unsharded)
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5000))
    connection: GatewayConnection | None = None

    @property
    def key(self) -> tuple[int, int]:
        """(shard id, shard count); an unsharded session is shard 0 of 1."""
        return (self.shard[0], self.shard[1]) if self.shard else (0, 1)

    def serves(self, guild_id: int | None) -> bool:
        """Whether this session receives the events of that guild (None: DMs, on shard 0)."""
        shard_id, count = self.key
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id


GUILD_KEYED_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})


def guild_of(event: str, data: Any) -> int | None:
    """The guild a dispatch belongs to (its ``id`` for GUILD_* events, else ``guild_id``)."""
    if not isinstance(data, dict):
        return None
    value = data.get("id") if event in GUILD_KEYED_EVENTS else data.get("guild_id")
    return int(value) if value is not None else None


def valid_shard(shard: Any) -> bool:
    return (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 0 <= shard[0] < shard[1]
    )


class Gateway:
    """Serves the websocket; the test drives it with dispatch/drop/reconnect/invalidate."""

    def __init__(
        self,
        state: FakeState,
        *,
        resume_url: Callable[[], str],
        on_change: Callable[[], None],
        heartbeat_interval_ms: int = 41250,
        reject_privileged_intents: bool = True,
        recommended_shards: int = 1,
        max_guilds_per_shard: int | None = None,
    ) -> None:
        self.state = state
        self._resume_url = resume_url
        self._on_change = on_change
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.reject_privileged_intents = reject_privileged_intents
        self.available = True
        self.recommended_shards = recommended_shards  # GET /gateway/bot's "shards"
        self.max_guilds_per_shard = max_guilds_per_shard  # None: never 4011
        self.sessions: dict[tuple[int, int], GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.log: list[GatewayEvent] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.heartbeats = 0
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- test controls --------------------------------------------------------------------

    @property
    def session(self) -> GatewaySession | None:
        """The lowest shard's session (the only one of an unsharded bot), or None."""
        return self.sessions[min(self.sessions)] if self.sessions else None

    def shard_session(self, shard_id: int | None) -> GatewaySession | None:
        """The session of that shard id (None: :attr:`session`)."""
        if shard_id is None:
            return self.session
        return next((s for k, s in sorted(self.sessions.items()) if k[0] == shard_id), None)

    def session_for_guild(self, guild_id: int | None) -> GatewaySession | None:
        """The session that receives that guild's events (None: DMs, shard 0's)."""
        return next((s for s in self.sessions.values() if s.serves(guild_id)), None)

    @property
    def connected(self) -> bool:
        return self.session is not None and self.session.connection is not None

    def dispatch(self, event: str, data: Any) -> int:
        """Send (or, between connections, buffer for RESUME) one dispatch to the session of
        its guild's shard; returns its seq there, or 0 when no session holds that shard
        (the event is lost, as Discord's would be: logged as ``undelivered``)."""
        if not self.sessions:
            raise RuntimeError(f"no gateway session: cannot dispatch {event}")
        guild_id = guild_of(event, data)
        seq = 0
        for session in list(self.sessions.values()):
            if session.serves(guild_id):
                seq = self._send(session, event, data)
        if seq == 0:
            self._record("undelivered", None, event=event, guild_id=guild_id)
        return seq

    def _send(self, session: GatewaySession, event: str, data: Any) -> int:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.buffer.append(frame)
        if session.connection is not None:
            session.connection.queue.put_nowait(frame)
        return session.seq

    def drop_connection(self, shard_id: int | None = None) -> bool:
        """Abort the live connection's TCP socket (no close frame), as a network failure
        would; the session stays resumable. Returns False if nothing was connected."""
        session = self.shard_session(shard_id)
        conn = session.connection if session else None
        if session is None or conn is None:
            return False
        session.connection = None
        self._record("drop", conn)
        if conn.transport is not None:
            conn.transport.abort()
        conn.queue.put_nowait(None)
        return True

    def send_reconnect(self, shard_id: int | None = None) -> bool:
        """Send op 7 RECONNECT on the live connection (the client should RESUME)."""
        session = self.shard_session(shard_id)
        conn = session.connection if session else None
        if conn is None:
            return False
        conn.queue.put_nowait({"op": RECONNECT, "d": None})
        return True

    def invalidate_session(self, *, resumable: bool = False, shard_id: int | None = None) -> bool:
        """Send op 9 INVALID_SESSION; unless resumable, the session is forgotten so the
        client must IDENTIFY again (and gets a fresh READY)."""
        session = self.shard_session(shard_id)
        conn = session.connection if session else None
        if session is None or conn is None:
            return False
        conn.queue.put_nowait({"op": INVALID_SESSION, "d": resumable})
        if not resumable:
            self._forget(session)
        self._record("invalid_session", conn, resumable=resumable)
        return True

    def kinds(self) -> list[str]:
        return [e.kind for e in self.log]

    async def close_all(self) -> None:
        """Close every connection (code 1001) and stop writer tasks; used at shutdown."""
        for conn in list(self.connections):
            if not conn.ws.closed:
                conn.queue.put_nowait(_Close(1001, "server shutting down"))
        await asyncio.sleep(0)
        for conn in list(self.connections):
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    # ---- websocket handler ----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.available:
            self._record("refused", None, path=request.path)
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse(compress=False, max_msg_size=0, autoping=True)
        transport = request.transport
        await ws.prepare(request)
        conn = GatewayConnection(
            id=next(self._ids),
            path=request.path,
            query=dict(request.query),
            ws=ws,
            transport=transport,
            zlib_stream=request.query.get("compress") == "zlib-stream",
        )
        self.connections.append(conn)
        self._record("connect", conn, path=request.path, query=dict(request.query))
        writer = asyncio.create_task(self._writer(conn))
        self._tasks.add(writer)
        writer.add_done_callback(self._tasks.discard)
        conn.queue.put_nowait(
            {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    self._on_frame(conn, json.loads(msg.data.decode()))
                else:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            conn.close_code = ws.close_code
            for session in self.sessions.values():
                if session.connection is conn:
                    session.connection = None
            self._record("close", conn, code=ws.close_code)
            conn.queue.put_nowait(None)
        return ws

    async def _writer(self, conn: GatewayConnection) -> None:
        compressor = zlib.compressobj() if conn.zlib_stream else None
        try:
            while True:
                item = await conn.queue.get()
                if item is None or conn.ws.closed:
                    return
                if isinstance(item, _Close):
                    conn.server_close_code = item.code
                    await conn.ws.close(code=item.code, message=item.reason.encode())
                    return
                text = json.dumps(item, separators=(",", ":"))
                if compressor is not None:
                    data = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(text)
                conn.frames_sent += 1
        except (ConnectionError, RuntimeError) as exc:
            log.debug("gateway writer %s stopped: %s", conn.id, exc)

    def _on_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            conn.queue.put_nowait({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY and isinstance(data, dict):
            self._identify(conn, data)
        elif op == RESUME and isinstance(data, dict):
            self._resume(conn, data)

    def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        self.identify_payloads.append(data)
        self._record("identify", conn, intents=data.get("intents"), shard=data.get("shard"))
        if data.get("token") != self.state.token:
            conn.queue.put_nowait(_Close(4004, "Authentication failed."))
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents & ~KNOWN_INTENTS:
            conn.queue.put_nowait(_Close(4013, "Invalid intent(s)."))
            return
        if self.reject_privileged_intents and intents & PRIVILEGED_INTENTS:
            conn.queue.put_nowait(_Close(4014, "Disallowed intent(s)."))
            return
        shard = data.get("shard")
        if shard is not None and not valid_shard(shard):
            self._record("invalid_shard", conn, shard=shard)
            conn.queue.put_nowait(_Close(4010, "Invalid shard."))
            return
        session = GatewaySession(secrets.token_hex(16), intents, shard)
        guild_ids = [g for g in self.state.bot_guild_ids() if session.serves(g)]
        limit = self.max_guilds_per_shard
        if limit is not None and len(guild_ids) > limit:
            self._record("sharding_required", conn, shard=shard, guilds=len(guild_ids))
            conn.queue.put_nowait(_Close(4011, "Sharding required."))
            return
        old = self.sessions.get(session.key)
        if old is not None and old.connection is not None and old.connection is not conn:
            old.connection.queue.put_nowait(_Close(4000, "session replaced"))
        self.sessions[session.key] = session
        session.connection = conn
        ready: dict[str, Any] = {
            "v": 10,
            "user": {
                **self.state.bot.payload(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
            },
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._resume_url(),
            "application": {
                "id": str(self.state.application_id),
                "flags": self.state.application_flags,
            },
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "_trace": ["fakediscord"],
        }
        if isinstance(shard, list):
            ready["shard"] = shard
        self._send(session, "READY", ready)
        self._record(
            "ready", conn, session_id=session.session_id, shard=list(session.key), guilds=guild_ids
        )
        for gid in guild_ids:
            self._send(session, "GUILD_CREATE", self.guild_create_payload(gid))

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        session = self.session_for_guild(guild_id)
        intents = session.intents if session else 0
        return self.state.guild_payload(guild_id, all_members=bool(intents & GUILD_MEMBERS))

    def _forget(self, session: GatewaySession) -> None:
        if self.sessions.get(session.key) is session:
            del self.sessions[session.key]

    def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session_id = data.get("session_id")
        session = next((s for s in self.sessions.values() if s.session_id == session_id), None)
        seq = data.get("seq")
        self._record("resume", conn, session_id=session_id, seq=seq)
        if data.get("token") != self.state.token or session is None:
            conn.queue.put_nowait({"op": INVALID_SESSION, "d": False})
            self._record("invalid_session", conn, resumable=False)
            return
        last = seq if isinstance(seq, int) else 0
        missed = [f for f in session.buffer if f["s"] > last]
        if last < session.seq and (not missed or missed[0]["s"] != last + 1):
            conn.queue.put_nowait({"op": INVALID_SESSION, "d": False})
            self._forget(session)
            self._record("invalid_session", conn, resumable=False)
            return
        if session.connection is not None and session.connection is not conn:
            old = session.connection
            if old.transport is not None:
                old.transport.abort()
        for frame in missed:
            conn.queue.put_nowait(frame)
        session.connection = conn
        self._send(session, "RESUMED", {"_trace": ["fakediscord"]})
        self._record(
            "resumed", conn, replayed=len(missed), replayed_events=[f["t"] for f in missed]
        )

    def _record(self, kind: str, conn: GatewayConnection | None, **detail: Any) -> None:
        self.log.append(GatewayEvent(kind, conn.id if conn else 0, detail))
        self._on_change()
