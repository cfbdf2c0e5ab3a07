"""AI summaries through any OpenAI-compatible endpoint; the offline summary stays otherwise.

`LLMSummarizer.try_llm` never fails and never takes longer than `llm_timeout_s`: on a timeout
(including waiting for a concurrency slot), a connection error, any non-200 answer (429
included), malformed JSON, an empty answer, an answer `accept_llm_summary` rejects, or when the
per-hour call cap is reached, it returns None and the item keeps its offline summary. The API
key is only ever put in the Authorization header: logs name the endpoint (without credentials
or query) and the model, and never include exception text from the HTTP client.

The operator-configured base URL is trusted (http://127.0.0.1:11434/v1 for a local Ollama is
normal), so it does not go through the feed fetch guard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.config import Settings
from bot.ratelimit import SlidingWindow
from bot.text.llm_prompt import SummaryInput, build_messages
from bot.text.summary_guard import accept_llm_summary

log = logging.getLogger(__name__)

MAX_TOKENS = 400
TEMPERATURE = 0.2
MAX_RESPONSE_BYTES = 256 * 1024
WINDOW_S = 3600.0


class _Unusable(Exception):
    """The endpoint answered, but not with something usable; the message is ours, never theirs."""


def endpoint_for_logs(base_url: str) -> str:
    """The base URL without user info, query or fragment (they may carry credentials)."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _content_of(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Unusable("malformed JSON answer") from None
    if content is None:
        return ""
    if not isinstance(content, str):
        raise _Unusable("malformed JSON answer")
    return content


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _Unusable(f"answer larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class LLMSummarizer:
    """Asks an OpenAI-compatible chat endpoint for an item's summary."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not settings.llm_base_url or not settings.llm_model:
            raise ValueError("LLMSummarizer needs llm_base_url and llm_model")
        self._settings = settings
        self.model = settings.llm_model
        self._endpoint = settings.llm_base_url.rstrip("/") + "/chat/completions"
        self._where = endpoint_for_logs(settings.llm_base_url)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.llm_api_key:
            self._headers["Authorization"] = f"Bearer {settings.llm_api_key}"
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings.llm_concurrency)
        self._calls = SlidingWindow(settings.llm_calls_per_hour, WINDOW_S, clock)
        self._cap_reported = False
        self.outcomes: Counter[str] = Counter()
        """How each call ended: "llm", or the reason it gave no summary."""

    async def try_llm(self, item: SummaryInput) -> str | None:
        """The model's accepted summary, or None (the reason is logged and counted)."""
        if self._calls.wait() > 0:  # do not queue for a slot when the cap is reached
            self._fall_back_at_cap()
            return None
        reason: str
        timeout_s = self._settings.llm_timeout_s
        try:
            async with asyncio.timeout(timeout_s), self._slots:
                if not self._calls.try_take():
                    self._fall_back_at_cap()
                    return None
                self._cap_reported = False
                content = await self._request(item)
        except TimeoutError:
            reason = f"no answer within {timeout_s:g}s"
        except aiohttp.ClientError as exc:
            reason = f"connection error ({type(exc).__name__})"
        except _Unusable as exc:
            reason = str(exc)
        except Exception as exc:
            reason = f"unexpected error ({type(exc).__name__})"
        else:
            summary = accept_llm_summary(content, item) if content.strip() else None
            if summary is not None:
                self.outcomes["llm"] += 1
                log.debug(
                    "AI summary from %s model %s (%d chars)", self._where, self.model, len(summary)
                )
                return summary
            reason = (
                "empty answer" if not content.strip() else "answer is not a plain-prose summary"
            )
        self._fall_back(reason)
        return None

    async def _request(self, item: SummaryInput) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        payload = {
            "model": self.model,
            "messages": build_messages(
                item,
                language_policy=self._settings.llm_language,
                max_input_chars=self._settings.llm_input_chars,
            ),
            "max_tokens": MAX_TOKENS,
            "temperature": TEMPERATURE,
            "stream": False,
        }
        async with self._session.post(
            self._endpoint, json=payload, headers=self._headers, allow_redirects=False
        ) as response:
            if response.status != 200:
                raise _Unusable(f"HTTP {response.status}")
            body = await _read_capped(response, MAX_RESPONSE_BYTES)
        return _content_of(body)

    def _fall_back(self, reason: str) -> None:
        self.outcomes[reason] += 1
        log.warning(
            "AI summary from %s model %s failed: %s; using the offline summary",
            self._where,
            self.model,
            reason,
        )

    def _fall_back_at_cap(self) -> None:
        self.outcomes["hourly cap reached"] += 1
        if not self._cap_reported:
            self._cap_reported = True
            log.info(
                "AI summaries: %d calls in the last hour (DIGESTBOT_LLM_CALLS_PER_HOUR); "
                "using offline summaries until the window frees up",
                self._settings.llm_calls_per_hour,
            )

    async def aclose(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None
