"""The Discord app loads the cogs by name: importing it imports no cog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = "import sys, bot.app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'cogs'))"


def test_importing_the_app_imports_no_cog() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
