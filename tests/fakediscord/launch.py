"""Run a module with discord.py pointed at a fake Discord, for bot subprocesses.

    python -m tests.fakediscord.launch bot run --flag ...

reads ``FAKEDISCORD_API_BASE`` and ``FAKEDISCORD_GATEWAY`` (see
``FakeDiscord.subprocess_env()``), sets ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``, then runs the module as ``__main__`` with the
remaining arguments. Used by crash tests that SIGKILL the bot process.
"""

from __future__ import annotations

import os
import runpy
import sys

import discord.gateway
import discord.http
import yarl

from tests.orphans import die_with_parent


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m tests.fakediscord.launch MODULE [ARGS...]")
    die_with_parent()  # a test that dies never leaves its bot running
    discord.http.Route.BASE = os.environ["FAKEDISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKEDISCORD_GATEWAY"])
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
