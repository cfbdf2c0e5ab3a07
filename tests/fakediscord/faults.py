"""Fault injection: make matching REST requests fail, slow down or vanish.

A rule matches on HTTP method and a regular expression searched in the path
below ``/api/v10`` (e.g. ``r"/channels/\\d+/messages$"``). Each matching request
consumes one use of the first live rule (``count=None`` means until removed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["status", "delay", "drop"]


@dataclass
class FaultRule:
    """One injected fault. Set ``after_effect`` to apply the request first and then fail
    the response (the client sees an error although Discord did act on it)."""

    method: str | None
    pattern: re.Pattern[str]
    action: Action
    status: int = 500
    count: int | None = 1
    delay: float = 0.0
    retry_after: float = 0.1
    is_global: bool = False
    with_via: bool = True
    after_effect: bool = False
    hits: int = 0
    matched_paths: list[str] = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, method: str, path: str) -> bool:
        if self.exhausted:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


class FaultInjector:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def _add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def fail(
        self,
        pattern: str,
        status: int = 500,
        *,
        method: str | None = None,
        count: int | None = 1,
        after_effect: bool = False,
    ) -> FaultRule:
        """Answer the next ``count`` matching requests with ``status`` (500, 502, 503, 403…)."""
        return self._add(
            FaultRule(
                method, re.compile(pattern), "status", status, count, after_effect=after_effect
            )
        )

    def rate_limit(
        self,
        pattern: str,
        *,
        method: str | None = None,
        count: int | None = 1,
        retry_after: float = 0.1,
        is_global: bool = False,
        with_via: bool = True,
    ) -> FaultRule:
        """Answer 429 with Discord's body and headers (``with_via=False`` looks like a
        Cloudflare ban: discord.py raises at once instead of retrying)."""
        return self._add(
            FaultRule(
                method,
                re.compile(pattern),
                "status",
                429,
                count,
                retry_after=retry_after,
                is_global=is_global,
                with_via=with_via,
            )
        )

    def delay(
        self,
        pattern: str,
        seconds: float,
        *,
        method: str | None = None,
        count: int | None = 1,
        after_effect: bool = False,
    ) -> FaultRule:
        """Hold matching requests for ``seconds`` before handling them normally
        (``after_effect=True``: handle them first, then hold the answer: a post in flight)."""
        return self._add(
            FaultRule(
                method,
                re.compile(pattern),
                "delay",
                count=count,
                delay=seconds,
                after_effect=after_effect,
            )
        )

    def drop(
        self,
        pattern: str,
        *,
        method: str | None = None,
        count: int | None = 1,
        after_effect: bool = False,
    ) -> FaultRule:
        """Close the TCP connection without answering (optionally after acting on it)."""
        return self._add(
            FaultRule(method, re.compile(pattern), "drop", count=count, after_effect=after_effect)
        )

    def remove(self, rule: FaultRule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule that applies to this request, with one use consumed."""
        for rule in self.rules:
            if rule.matches(method, path):
                rule.hits += 1
                rule.matched_paths.append(path)
                return rule
        return None
