"""Child processes of a test that never outlive it.

Each child starts in its own process group (a SIGKILL reaches anything it started too) and is
killed by the ``child_processes`` fixture's finalizer, which pytest runs even when
pytest-timeout interrupts the test with its signal method, and at interpreter exit as a last
resort. The children themselves (``tests.crash_child``, ``tests.fakediscord.launch``) also
ask Linux to SIGKILL them when their parent dies (:func:`tests.orphans.die_with_parent`),
which covers a parent that is itself killed outright.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest


class ChildProcesses:
    """Starts children in their own process groups and kills every one of them on demand."""

    def __init__(self) -> None:
        self.started: list[asyncio.subprocess.Process] = []
        atexit.register(self.kill_all)

    async def spawn(self, *args: str, **options: Any) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(*args, start_new_session=True, **options)
        self.started.append(process)
        return process

    @staticmethod
    def sigkill(process: asyncio.subprocess.Process) -> None:
        """SIGKILL the child and its process group (no-op once it has been reaped: its pid
        may belong to someone else by then)."""
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """Synchronous, so it works from a finalizer or atexit with no event loop running."""
        for process in self.started:
            self.sigkill(process)

    def close(self) -> None:
        self.kill_all()
        atexit.unregister(self.kill_all)


@pytest.fixture
def child_processes() -> Iterator[ChildProcesses]:
    children = ChildProcesses()
    try:
        yield children
    finally:
        children.close()
