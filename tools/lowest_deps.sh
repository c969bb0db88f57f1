#!/usr/bin/env bash
# Install the lowest versions pyproject.toml allows for our direct dependencies into a
# scratch virtual environment and run a smoke subset of the suite there, so a declared
# minimum that cannot work (an import that is missing, an endpoint that fails) is caught.
#
# uv's `--resolution lowest-direct` picks the floor of every direct requirement (their own
# dependencies resolve normally). uv itself is installed from PyPI into the scratch venv's
# sibling when it is not on PATH.
#
# Usage: tools/lowest_deps.sh [scratch-dir]   (default: .lowest; removed first)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
SCRATCH="${1:-.lowest}"
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
SCRATCH="$(cd "$SCRATCH" && pwd)"
"$PYTHON" -m venv "$SCRATCH/tools"
if command -v uv >/dev/null 2>&1; then
    UV=uv
else
    "$SCRATCH/tools/bin/python" -m pip install --quiet uv
    UV="$SCRATCH/tools/bin/uv"
fi
"$UV" venv --quiet --python "$PYTHON" "$SCRATCH/venv"
VENV_PYTHON="$SCRATCH/venv/bin/python"
"$UV" pip install --quiet --python "$VENV_PYTHON" --resolution lowest-direct -e '.[dev]'
"$UV" pip list --python "$VENV_PYTHON" 2>/dev/null \
    | grep -i -E '^(pynacl|joserfc|flask|sqlalchemy|alembic|marshmallow|psycopg|gunicorn|httpx|click|authlib|requests|pyotp|segno|apispec|nicknames|jellyfish|anyascii|holidays|prometheus-client) '

# The smoke subset, on SQLite: the cryptography (the OPRF's point checks need PyNaCl 1.6.2's
# libsodium), the token endpoint on a loopback http base URL (Authlib 1.6.0 answered it
# with a 500), federation between two nodes, and the hostile-input checks under real
# gunicorn, whose fresh-instance test runs `db upgrade` from the command line.
"$SCRATCH/venv/bin/marac-gateway" --version
"$VENV_PYTHON" -m pytest -q -p no:cacheprovider -x -k "not postgresql" \
    tests/keys \
    tests/api/test_access_tokens.py \
    tests/federation/test_federation_refusals.py \
    tests/security/test_hostile_input.py
