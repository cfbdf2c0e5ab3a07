"""Parsing a feed in a worker process with its own memory and time bound.

A feed is third-party markup: whatever feedparser, expat or the entry building do with it, one
document must not take the bot down. Each parse runs in a long-lived worker process
(`python -m bot.ingest.sandbox`) whose address space is capped with RLIMIT_AS; the caller waits
at most `timeout_s`. A worker out of time or memory (or dead) is killed, that feed's poll gets a
ParseError and the next feed a fresh worker. The worker answers in JSON, not pickle: what comes
back from a process that read hostile input is data, never code.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import import_module
from typing import IO, Any

from bot.ingest.errors import PARSE_MEMORY, SLOW_PARSE, NotAFeedError, ParseError
from bot.model import Enclosure, Entry, ParsedFeed

# A worker's imports (feedparser, lxml) can take seconds on a loaded machine: not the feed's fault.
_START_TIMEOUT_S = 60.0
_READY = b"R"
_FRAME = struct.Struct("!Q")


class _WorkerGone(Exception):
    """The worker closed its pipe, or did not answer in time."""


class _Worker:
    """One worker process and its pipes. Used by one thread at a time."""

    def __init__(self, target: str, memory_bytes: int, timeout_s: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.ingest.sandbox", target, str(memory_bytes), str(timeout_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout
        self._ready = False

    def exchange(self, request: bytes, timeout_s: float) -> bytes:
        if not self._ready:
            if self._read(1, time.monotonic() + _START_TIMEOUT_S) != _READY:
                raise _WorkerGone
            self._ready = True
        deadline = time.monotonic() + timeout_s
        self._write(request, deadline)
        (length,) = _FRAME.unpack(self._read(_FRAME.size, deadline))
        return self._read(length, deadline)

    def _write(self, data: bytes, deadline: float) -> None:
        fd = self._in.fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise _WorkerGone
            try:
                written = os.write(fd, view[:65536])
            except OSError:
                raise _WorkerGone from None
            view = view[written:]

    def _read(self, size: int, deadline: float) -> bytes:
        fd = self._out.fileno()
        chunks: list[bytes] = []
        missing = size
        while missing:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise _WorkerGone
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise _WorkerGone
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self._in.close()
        self._out.close()


class ParseSandbox:
    """Parses feeds in worker processes, each call bounded in time and memory. Thread-safe; up
    to `workers` parses at once. `target` is a "module:function" like parse_feed (tests inject a
    hostile one)."""

    def __init__(
        self,
        *,
        timeout_s: float = 20.0,
        memory_bytes: int = 512 * 2**20,
        workers: int = 2,
        target: str = "bot.ingest.parse:parse_feed",
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self._target = target
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._closed = False

    def parse(self, body: bytes, headers: Mapping[str, str], base_url: str | None) -> ParsedFeed:
        """Like parse_feed (raises NotAFeedError / ParseError), but bounded. Blocking."""
        header = json.dumps({"headers": dict(headers), "base_url": base_url}).encode()
        # Two frames, the JSON header and the body, so the worker reads the body into one buffer.
        request = _FRAME.pack(len(header)) + header + _FRAME.pack(len(body)) + body
        with self._slots:
            worker = self._take()
            try:
                result = json.loads(worker.exchange(request, self.timeout_s))
            except (_WorkerGone, ValueError):  # ValueError: an answer that is not ours
                returncode = worker.process.poll()
                worker.kill()
                if returncode is None:
                    raise ParseError(SLOW_PARSE.format(seconds=f"{self.timeout_s:g}")) from None
                raise ParseError(self._too_big()) from None
            except BaseException:
                worker.kill()
                raise
            error = result.get("error")
            if error in ("memory", "internal"):
                worker.kill()  # after MemoryError a process is best not trusted again
            else:
                self._give_back(worker)
        message = str(result.get("message", ""))
        if error == "memory":
            raise ParseError(self._too_big())
        if error == "internal":  # a bug of ours, not the feed's: surface it as one
            raise RuntimeError(f"the feed parser failed: {message}")
        if error is not None:
            raise (NotAFeedError if error == "not_a_feed" else ParseError)(message)
        return _feed_from_json(result)

    def _too_big(self) -> str:
        return PARSE_MEMORY.format(size=self.memory_bytes // 2**20)

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the parse sandbox is closed")
            if self._idle:
                return self._idle.pop()
        return _Worker(self._target, self.memory_bytes, self.timeout_s)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.kill()

    def close(self) -> None:
        """Stop the idle workers; a parse still running stops its own when it ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_DEFAULT_SANDBOX = ParseSandbox()  # no worker starts until the first parse
atexit.register(_DEFAULT_SANDBOX.close)


def parse_feed_bounded(body: bytes, headers: Mapping[str, str], base_url: str | None) -> ParsedFeed:
    """parse_feed in the process-wide sandbox (default limits). Blocking: run it in a thread."""
    return _DEFAULT_SANDBOX.parse(body, headers, base_url)


def _feed_from_json(data: dict[str, Any]) -> ParsedFeed:
    """The worker's `dataclasses.asdict` of a ParsedFeed, back as one."""
    entries = [
        Entry(
            **{
                **e,
                "published": datetime.fromisoformat(e["published"]) if e["published"] else None,
                "enclosure": Enclosure(**e["enclosure"]) if e["enclosure"] else None,
            }
        )
        for e in data.pop("entries")
    ]
    return ParsedFeed(**data, entries=entries)


def _serve(target: str, memory_bytes: int, timeout_s: float) -> None:
    """The worker: read a request, parse, answer; until stdin closes."""
    module, _, name = target.partition(":")
    parse: Callable[[bytes, Mapping[str, str], str | None], ParsedFeed]
    parse = getattr(import_module(module), name)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    stdin = sys.stdin.buffer
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    stdout.write(_READY)
    stdout.flush()
    # Should the bot die mid-parse, nobody would kill a stuck worker: SIGALRM (no handler,
    # so it terminates, even inside C code) is its own deadline.
    own_deadline = max(1, int(timeout_s) + 5)
    while frame := stdin.read(_FRAME.size):
        header = json.loads(stdin.read(_FRAME.unpack(frame)[0]))
        body = stdin.read(_FRAME.unpack(stdin.read(_FRAME.size))[0])
        signal.alarm(own_deadline)
        try:
            feed = dataclasses.asdict(parse(body, header["headers"], header["base_url"]))
            encoded = json.dumps(feed, default=datetime.isoformat).encode()
        except MemoryError:
            encoded = json.dumps({"error": "memory"}).encode()
        except ParseError as exc:
            kind = "not_a_feed" if isinstance(exc, NotAFeedError) else "parse"
            encoded = json.dumps({"error": kind, "message": exc.message}).encode()
        except Exception as exc:  # reported to the caller, which raises it
            encoded = json.dumps({"error": "internal", "message": repr(exc)[:500]}).encode()
        signal.alarm(0)
        stdout.write(_FRAME.pack(len(encoded)) + encoded)
        stdout.flush()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
