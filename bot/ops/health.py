"""The local HTTP endpoint: /healthz for the Docker healthcheck and /metrics for Prometheus.

/healthz runs the named checks the app provides, concurrently, each with a time limit; a check
returns None when fine or a problem in words. Builders cover the usual ones: the store accepts
a write, a loop ticked recently, the gateway is connected (or the bot runs in console mode).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.ops.metrics import Metrics
from bot.store.db import Backend
from bot.store.maintenance import probe_writable

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT_S = 5.0


class Heartbeat:
    """A loop calls `tick()` once per round; `loop_alive_check` reads `last`, the `clock()`
    time of its last round (None before the first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last: float | None = None

    def tick(self) -> None:
        self.last = self.clock()


def store_writable_check(db: Backend, *, timeout_s: float = 4.0) -> Check:
    """The store accepts a tiny write transaction. The probe runs as its own task and is
    never cancelled half-way (that could leave the writer inside a transaction): a slow
    probe is reported, and the next request waits on the same probe."""
    pending: asyncio.Task[None] | None = None

    async def check() -> str | None:
        nonlocal pending
        if pending is None or pending.done():
            pending = asyncio.create_task(probe_writable(db))
        try:
            await asyncio.wait_for(asyncio.shield(pending), timeout_s)
        except TimeoutError:
            return f"a write to the database did not finish within {timeout_s:g}s"
        except Exception as exc:
            return f"the database cannot be written: {exc}"
        return None

    return check


def loop_alive_check(name: str, heartbeat: Heartbeat, max_age_s: float) -> Check:
    """The loop `name` ticked within `max_age_s` (e.g. 3 × its interval)."""
    started = heartbeat.clock()

    async def check() -> str | None:
        now = heartbeat.clock()
        last = heartbeat.last
        if last is None and now - started > max_age_s:
            return f"the {name} loop has not run once in {now - started:.0f}s"
        if last is not None and now - last > max_age_s:
            return f"the {name} loop last ran {now - last:.0f}s ago (limit {max_age_s:.0f}s)"
        return None

    return check


def gateway_check(is_connected: Callable[[], bool] | None) -> Check:
    """The Discord gateway is connected; None means console mode (no Discord), always fine."""

    async def check() -> str | None:
        if is_connected is None or is_connected():
            return None
        return "not connected to the Discord gateway"

    return check


class HealthServer:
    """aiohttp.web on `host:port` (127.0.0.1 by default: not reachable from outside)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        checks: Mapping[str, Check] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.checks = dict(checks or {})
        self.metrics = metrics or Metrics()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])  # the real one when port was 0

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def _check(self, name: str) -> str | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return await self.checks[name]()
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_S:g}s"
        except Exception as exc:
            log.warning("health check %s raised", name, exc_info=True)
            return f"check failed: {exc}"

    async def _healthz(self, request: web.Request) -> web.Response:
        names = list(self.checks)
        results = dict(zip(names, await asyncio.gather(*map(self._check, names)), strict=True))
        failing = {name: problem for name, problem in results.items() if problem is not None}
        body = {
            "status": "unhealthy" if failing else "ok",
            "checks": {name: problem or "ok" for name, problem in results.items()},
        }
        if failing:
            body["failing"] = failing
        return web.json_response(body, status=503 if failing else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
