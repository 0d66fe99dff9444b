#!/usr/bin/env bash
# Set up (including the private PulseAudio server used when the machine has no
# microphone) and run the main job. Arguments are passed to scripts/main_job.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
exec .venv/bin/python scripts/main_job.py "$@"
