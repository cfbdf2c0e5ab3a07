"""pytest fixture for the fake. Enable it for a directory with, in the root conftest.py,

    pytest_plugins = ["tests.fakediscord.fixtures"]

or define an equivalent fixture with ``FakeDiscord.serve()`` in a test module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .server import FakeDiscord


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it; stopped and restored after."""
    async with FakeDiscord.serve() as fake:
        yield fake
