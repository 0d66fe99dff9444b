#!/usr/bin/env bash
# Set everything up (system packages, .venv, models) and run the test suite.
# Arguments are passed to pytest, e.g. scripts/test.sh -q tests/test_virtual_audio.py
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The tests run with no network at all: in a private network namespace whose only interface is
# loopback (Companion must never need the network at run time). Where that is not possible
# (not root), the socket guard in tests/conftest.py still fails any outside connection.
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null && command -v ip >/dev/null 2>&1; then
    echo "==> running pytest $* (no network: private network namespace)"
    exec unshare --net sh -c 'ip link set lo up && COMPANION_TEST_NO_NETWORK=1 exec .venv/bin/python -m pytest "$@"' sh "$@"
fi
echo "==> running pytest $* (network guarded by tests/conftest.py)"
exec .venv/bin/python -m pytest "$@"
