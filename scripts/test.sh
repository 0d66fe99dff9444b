#!/usr/bin/env bash
# Set everything up (system packages, .venv, models) and run the test suite.
# Arguments are passed to pytest, e.g. scripts/test.sh -q tests/test_virtual_audio.py
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "==> running pytest $*"
exec .venv/bin/python -m pytest "$@"
