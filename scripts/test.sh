#!/usr/bin/env bash
# Sets up everything the tests need, then runs the whole suite: ruff, mypy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check vxlankit tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest -n 2 "$@"
