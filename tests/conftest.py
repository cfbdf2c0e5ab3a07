"""Suite-wide fixtures: no test ever reaches past loopback; a loopback feed server."""

from __future__ import annotations

pytest_plugins = (
    "tests.netguard",
    "tests.feedserver",
    "tests.fakediscord.fixtures",
    "tests.children",
    "tests.pgserver",
)
