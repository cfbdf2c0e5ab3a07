"""A loopback fake of an OpenAI-compatible chat endpoint, with scripted replies.

    async with running_fake_llm() as fake:
        fake.reply = Reply.error(500)
        ... Settings(llm_base_url=fake.base_url, llm_model="fake-model") ...
        assert len(fake.requests) == 1

It listens on 127.0.0.1 only, records every request (path, headers, JSON body) and how many
requests were in flight at once. Delayed replies end early when the server stops.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

GOOD_SUMMARY = (
    "The author argues that small newsletters survive by serving a narrow audience well. "
    "The piece reports how three writers grew paid subscriptions without advertising."
)
INJECTED_REPLY = "@everyone @here <@&123456789012345678> <@!42> <@42> "


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake answers next. `body` (raw bytes) overrides `content`."""

    status: int = 200
    content: str | None = GOOD_SUMMARY
    delay_s: float = 0.0
    body: bytes | None = None
    obey_injection: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def good(cls, content: str = GOOD_SUMMARY, *, delay_s: float = 0.0) -> Reply:
        return cls(content=content, delay_s=delay_s)

    @classmethod
    def delay(cls, delay_s: float) -> Reply:
        return cls(delay_s=delay_s)

    @classmethod
    def error(cls, status: int) -> Reply:
        headers = {"Retry-After": "30"} if status == 429 else {}
        body = json.dumps({"error": {"message": "scripted failure", "code": status}}).encode()
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def empty(cls) -> Reply:
        return cls(content="")

    @classmethod
    def too_long(cls) -> Reply:
        return cls(content="This sentence goes on and on without saying much at all. " * 40)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(body=b'{"choices": [ this is not json')

    @classmethod
    def injection_obeyed(cls) -> Reply:
        """Answer like a model that followed an instruction found in the article: ping
        everyone and repeat the injected sentence."""
        return cls(obey_injection=True)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


def _injected_sentence(body: Any) -> str:
    """The sentence of the user message that carries the 'ignore previous instructions' order."""
    try:
        messages = body["messages"]
        user = next(m["content"] for m in messages if m["role"] == "user")
    except (KeyError, TypeError, StopIteration):
        return ""
    match = re.search(r"[^.!?\n]*ignore previous instructions[^.!?\n]*[.!?]?", user, re.I)
    return match.group(0).strip() if match else ""


class FakeLLM:
    """The fake server's state: set `reply`, read `requests` and `max_in_flight`."""

    def __init__(self) -> None:
        self.reply = Reply.good()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), body)
        )
        reply = self.reply
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.delay_s:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), reply.delay_s)
            if request.path != "/v1/chat/completions" or request.method != "POST":
                return web.Response(status=404, text="not found")
            if reply.body is not None:
                return web.Response(
                    status=reply.status,
                    body=reply.body,
                    headers=reply.headers,
                    content_type="application/json",
                )
            content = reply.content
            if reply.obey_injection:
                content = INJECTED_REPLY + _injected_sentence(body)
            answer = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": (body or {}).get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
            return web.json_response(answer, status=reply.status, headers=reply.headers)
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@asynccontextmanager
async def running_fake_llm() -> AsyncIterator[FakeLLM]:
    fake = FakeLLM()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
