#!/usr/bin/env bash
# Installs digestbot with its test tools into .venv and runs every check CI runs:
# ruff (lint + format), mypy --strict on bot/ and cogs/, the import contracts (lint-imports)
# and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# The store's contract tests start a real PostgreSQL server (tests/pgserver.py): Debian's
# package, unless DIGESTBOT_TEST_PG_URL names a server to use instead.
if [ -z "${DIGESTBOT_TEST_PG_URL:-}" ] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "== installing PostgreSQL (apt-get install postgresql)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
echo "== ruff check"; .venv/bin/ruff check bot cogs tests bench
echo "== ruff format --check"; .venv/bin/ruff format --check bot cogs tests bench
echo "== mypy --strict bot cogs"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports --no-cache
echo "== pytest"; .venv/bin/python -m pytest "$@"
