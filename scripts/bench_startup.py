#!/usr/bin/env python3
"""Startup benchmark: from launching `companion reflect` to Companion's first spoken word, measured on
the private PulseAudio server's speaker (first sound on the virtual speaker's monitor).

    .venv/bin/python scripts/bench_startup.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from companion.harness.virtual_audio import VirtualAudio  # noqa: E402


def first_sound(path: Path, threshold: float = 0.005) -> float | None:
    samples, rate = sf.read(str(path), dtype="float32")
    frame = rate // 100
    n = len(samples) // frame
    loud = np.flatnonzero(np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1)) > threshold)
    return loud[0] * frame / rate if loud.size else None


def one_run(audio: VirtualAudio, work: Path, home: Path, index: int) -> float:
    env = dict(os.environ, COMPANION_HOME=str(home), **audio.env)
    recording = audio.record_speaker(work / f"speaker-{index}.wav")
    launched = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "companion", "reflect", "--wait", "1", "--silence", "1",
                             "--prompt", "What felt important today?"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc.wait(timeout=120)
    wav = recording.stop()
    onset = first_sound(wav)
    if proc.returncode != 0 or onset is None:
        raise SystemExit(f"run failed: {proc.stderr.read().decode()}")
    return recording.started_at + onset - launched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # Python keeps each module compiled after a first start; where writing that is turned off
    # (PYTHONDONTWRITEBYTECODE), every start would compile Companion's code again
    compileall.compile_dir(str(REPO / "companion"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with VirtualAudio(work / "pulse") as audio:
            cold = one_run(audio, work, work / "home-cold", 0)  # empty voice cache: phrases rendered first
            warm = [one_run(audio, work, work / "home-cold", i + 1) for i in range(args.runs)]
    result = {"startup_cold_s": cold, "startup_warm_median_s": statistics.median(warm), "startup_warm_worst_s": max(warm)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"launch to first spoken word, first run (voice cache empty): {cold:.2f} s")
    print(f"launch to first spoken word, later runs: median {result['startup_warm_median_s']:.2f} s, worst {result['startup_warm_worst_s']:.2f} s ({args.runs} runs)")


if __name__ == "__main__":
    main()
