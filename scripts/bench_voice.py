#!/usr/bin/env python3
"""Companion's voice, both backends side by side in one run: Piper (joe, the default) and espeak-ng
through pyttsx3 (en-us, the fallback), on Companion's own phrases.

Each backend runs in a fresh process with an empty voice cache (so its peak memory is its own):
  * first audio, new phrase: from asking for a phrase to having its samples, the first phrase
    (which loads the voice) and then the median of the others;
  * synthesis real-time factor: synthesis time / audio duration, over the phrases after the first;
  * cache hit: asking again for a phrase already rendered (median);
  * peak memory: VmHWM of that process (Python and numpy alone: the baseline, shown beside it).
Then, in this process, on the rendered phrases:
  * intelligibility: WER of Whisper tiny.en (the embedded model) on each phrase, pooled;
  * naturalness: DNSMOS P.808 MOS and the overall MOS, from the models bundled in PyPI `speechmos`
    (installed by `scripts/setup.sh --bench`), the mean over the phrases.

    .venv/bin/python scripts/bench_voice.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PHRASES = [
    "Hello. Let's take a few quiet minutes with what came up in your session.",
    "What felt important today?",
    "What sensations or emotions are still with me?",
    "What do I want to notice in the coming days?",
    "Let's slow down together. Place a hand on your chest, and notice it rise and fall.",
    "Breathe in gently.",
    "And let it go.",
    "Feel your feet on the floor. There is nothing you need to do right now.",
    "Thank you. Your reflection is saved. You can read it back any time with companion list.",
]
BACKENDS = {"piper": "joe", "espeak": "espeak:en-us"}


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(voice_name: str, out_dir: Path) -> dict:
    """Runs in a fresh process: render every phrase once (timed), then again from the cache."""
    import numpy as np  # noqa: F401 - the baseline includes numpy, as Companion's does
    import soundfile as sf

    baseline = vm_hwm_mb()
    from companion.voice.base import VoiceSettings
    from companion.voice.choose import open_voice

    voice = open_voice(VoiceSettings(voice_name), notify=lambda note: print(f"note: {note}", file=sys.stderr))
    firsts, synth, audio = [], 0.0, 0.0
    for i, text in enumerate(PHRASES):
        started = time.perf_counter()
        samples, rate = voice.render(text)
        took = time.perf_counter() - started
        firsts.append(took)
        if i:
            synth += took
            audio += len(samples) / rate
        sf.write(str(out_dir / f"{i}.wav"), samples, rate)
    hits = []
    for text in PHRASES:
        started = time.perf_counter()
        voice.render(text)
        hits.append(time.perf_counter() - started)
    return {"voice": voice.speaking.describe(), "first_s": firsts[0], "new_phrase_median_s": statistics.median(firsts[1:]),
            "rtf": synth / audio, "cache_hit_ms": statistics.median(hits) * 1000, "peak_mb": vm_hwm_mb(),
            "baseline_mb": baseline}


def measure(backend: str, work: Path) -> dict:
    out = work / backend
    out.mkdir()
    env = dict(os.environ, COMPANION_HOME=str(work / f"home-{backend}"))
    run = subprocess.run([sys.executable, __file__, "--child", BACKENDS[backend], str(out)], env=env,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise SystemExit(f"{backend}: {run.stderr.strip()[-400:]}")
    result = json.loads(run.stdout)
    result["files"] = sorted(out.glob("*.wav"), key=lambda p: int(p.stem))
    return result


def listen(results: dict) -> None:
    """WER of Whisper tiny.en and DNSMOS on each backend's phrases (in place)."""
    import numpy as np
    import soundfile as sf

    from companion.audio.resample import resample
    from companion.speech import models
    from companion.textnorm import word_error_rate

    whisper = models.load(models.embedded_model())
    try:
        from speechmos import dnsmos
    except ImportError as e:
        dnsmos = None
        print(f"no DNSMOS ({e}): scripts/setup.sh --bench installs speechmos", file=sys.stderr)
    for result in results.values():
        heard, p808, ovrl = [], [], []
        for path in result.pop("files"):
            samples, rate = sf.read(str(path), dtype="float32")
            x = resample(samples, rate, 16000).astype(np.float32)
            heard.append(" ".join(t.text for t in whisper.transcribe(x)))
            if dnsmos is not None:
                scores = dnsmos.run(np.clip(x, -1, 1), 16000)
                p808.append(float(scores["p808_mos"]))
                ovrl.append(float(scores["ovrl_mos"]))
        result["wer"] = word_error_rate(" ".join(PHRASES), " ".join(heard))
        result["p808"] = statistics.mean(p808) if p808 else None
        result["ovrl"] = statistics.mean(ovrl) if ovrl else None


def rows(results: dict) -> list[dict]:
    out = []
    for backend, r in results.items():
        label = f"{r['voice']}" + (" (the default)" if backend == "piper" else " (the fallback)")
        out += [
            {"measure": "Voice: first audio, new phrase", "condition": label,
             "result": f"first phrase {r['first_s']:.2f} s (loads the voice), then median {r['new_phrase_median_s']:.2f} s",
             "goal": "ahead of need (rendered before it is said)", "met": True},
            {"measure": "Voice: synthesis real-time factor", "condition": label, "result": f"{r['rtf']:.2f}",
             "goal": "≤ 0.5", "met": r["rtf"] <= 0.5},
            {"measure": "Voice: cache hit", "condition": label, "result": f"{r['cache_hit_ms']:.1f} ms", "goal": "≤ 20 ms",
             "met": r["cache_hit_ms"] <= 20},
            {"measure": "Voice: peak memory", "condition": f"{label}, voice alone", "goal": "≤ 250 MB",
             "result": f"{r['peak_mb']:.0f} MB (Python and numpy alone {r['baseline_mb']:.0f} MB)", "met": r["peak_mb"] <= 250},
            {"measure": "Voice: intelligibility", "condition": f"{label}, WER of Whisper tiny.en on {len(PHRASES)} phrases",
             "result": f"{r['wer'] * 100:.1f} %", "goal": "≤ 10 %", "met": r["wer"] <= 0.10},
        ]
        if r.get("p808") is not None:
            out.append({"measure": "Voice: naturalness", "condition": f"{label}, DNSMOS P.808 (overall MOS)",
                        "result": f"{r['p808']:.2f} ({r['ovrl']:.2f})", "goal": "Piper above espeak-ng",
                        "met": backend != "piper" or r["p808"] > results.get("espeak", r)["p808"]})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="JSON on stdout (the table on stderr)")
    parser.add_argument("--child", nargs=2, metavar=("VOICE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        results = {backend: measure(backend, Path(tmp)) for backend in BACKENDS}
        listen(results)
    table = rows(results)
    for r in table:
        print(f"{r['measure']:36} {r['condition'][:60]:60} {r['result']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"backends": results, "rows": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
