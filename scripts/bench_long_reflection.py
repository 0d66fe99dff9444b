"""A long reflection answer on real parts: memory stays flat, audio and text are complete.

`companion reflect` runs as a subprocess on the private PulseAudio server (real devices, real
engine, real database) and one answer of MINUTES minutes of real speech (the LibriVox clips and
espeak-ng sentences, with short pauses) is spoken into the virtual microphone in real time. The
process's memory is sampled from /proc every few seconds.

Prints: peak memory (VmHWM), memory after the first minute and at the end, growth per 10 minutes
(least-squares slope), seconds of audio stored against seconds spoken, and the word error rate of
the stored text against what was spoken. Each decode briefly adds up to ~50 MB that is given back
when it ends (the peak shows it); so that one sample caught mid-decode does not pass for growth, the
resident memory is read as the median of each 30 s (after the first minute, at the end, and for the slope).
Only the time the answer is being spoken counts for those: once it ends, Companion stores it and renders
its closing line, which is not the answer's memory (that is printed apart, "after the answer").

    python scripts/bench_long_reflection.py --minutes 60 [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SENTENCES = [
    "Today I noticed how tired I was after the meeting.",
    "I want to be kinder to myself when I make a mistake.",
    "There was a moment of calm when I walked home through the park.",
    "My shoulders felt tight, and then they softened a little.",
    "I talked about my father and it felt different this time.",
    "I would like to notice when I hold my breath at work.",
]
PAUSE_BEFORE = 0.8  # seconds between the listening mark and the answer
GAP = 1.2  # seconds of quiet between sentences: shorter than the pause that ends an answer
PROMPT = "What felt important today?"


def speech_clips(workdir: Path) -> list[tuple[np.ndarray, str]]:
    """(16 kHz samples, transcript) for each LibriVox clip and espeak-ng sentence."""
    from speech_fixtures import espeak_wav, librivox_utterances

    from companion.audio.resample import resample

    clips = []
    for wav, text in librivox_utterances():
        samples, rate = sf.read(str(wav), dtype="float32")
        clips.append((resample(samples, rate, 16000), text))
    for i, text in enumerate(SENTENCES):
        samples, rate = sf.read(str(espeak_wav(text, workdir / f"sentence-{i}.wav")), dtype="float32")
        clips.append((resample(samples, rate, 16000), text))
    return clips


def build_long_answer(minutes: float, workdir: Path) -> tuple[Path, str, float]:
    """A WAV of `minutes` of speech with short pauses; returns (path, reference text, seconds)."""
    clips = speech_clips(workdir)
    gap = np.zeros(int(GAP * 16000), np.float32)
    out = workdir / "long-answer.wav"
    texts, total, i = [], 0.0, 0
    with sf.SoundFile(str(out), "w", 16000, 1, "PCM_16") as f:
        while total < minutes * 60:
            samples, text = clips[i % len(clips)]
            f.write(samples)
            f.write(gap)
            texts.append(text)
            total += (len(samples) + len(gap)) / 16000
            i += 1
    return out, " ".join(texts), total


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def settled_rss(samples: list[tuple[float, float]], every: float, span: float = 30.0) -> list[tuple[float, float]]:
    """(time, RSS) as medians of whole `span`-second windows counted back from the last sample,
    so the reading at the end is as steady as every other (a partial window first is dropped,
    unless it is all there is)."""
    window = max(1, int(round(span / every)))
    starts = range(len(samples) - window, -1, -window)
    parts = [samples[i : i + window] for i in reversed(starts)] or [samples]
    return [(float(np.median([t for t, _ in part])), float(np.median([r for _, r in part])))
            for part in parts if part]


def long_reflection(audio, env: dict[str, str], minutes: float, workdir: Path, every: float = 2.0) -> dict:
    """Run one long answer through `companion reflect`; returns the measured figures."""
    from companion.harness.drive import LISTENING_MARK, drive_command
    from companion.store.database import Store
    from companion.textnorm import missing_word_rate, word_error_rate

    wav, reference, spoken = build_long_answer(minutes, workdir)
    samples: list[tuple[float, float]] = []  # (time.monotonic(), RSS MiB)
    peak = [0.0]
    listening: list[float] = []  # when the question's listening mark was seen
    done = threading.Event()

    def watch(proc) -> None:
        def sample() -> None:
            while not done.is_set() and proc.poll() is None:
                rss, hwm = _status_kib(proc.pid, "VmRSS"), _status_kib(proc.pid, "VmHWM")
                if rss is not None:
                    samples.append((time.monotonic(), rss / 1024))
                if hwm is not None:
                    peak[0] = max(peak[0], hwm / 1024)
                done.wait(every)
        threading.Thread(target=sample, daemon=True).start()

    args = ["reflect", "--prompt", PROMPT, "--silence", "4", "--wait", "20", "--no-crisis-note"]
    def mark(marker: str, when: float) -> None:
        if marker == LISTENING_MARK:
            listening.append(when)

    run = drive_command(audio, args, [(LISTENING_MARK, wav, PAUSE_BEFORE)], env,
                        timeout=minutes * 60 + 180, on_start=watch, on_mark=mark)
    done.set()
    if run.returncode != 0:
        raise RuntimeError(f"companion reflect failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    with Store.open(Path(env["COMPANION_HOME"]) / "companion.db") as store:
        entries = [store.get_entry(e["id"]) for e in store.list_entries(kind="reflection")]
        audio_seconds = sum(sf.info(str(store.audio_path(e))).duration for e in entries)
        text = " ".join(e["text"] for e in entries)
    if not listening:
        raise RuntimeError("companion reflect never started listening")
    speech_start = listening[0] + PAUSE_BEFORE
    speech_end = speech_start + spoken
    during = [(t - speech_start, r) for t, r in samples if speech_start + 60.0 <= t <= speech_end]
    after = [r for t, r in samples if t > speech_end]
    settled = settled_rss(during, every)
    times = np.array([t for t, _ in settled])
    rss = np.array([r for _, r in settled])
    slope = float(np.polyfit(times, rss, 1)[0]) * 600 if len(times) > 2 else 0.0
    return {
        "minutes": round(spoken / 60, 2),
        "entries": len(entries),
        "peak_rss_mb": round(peak[0], 1),
        "rss_after_1_min_mb": round(float(rss[0]), 1) if len(rss) else None,
        "rss_at_end_mb": round(float(rss[-1]), 1) if len(rss) else None,
        "rss_growth_mb_per_10_min": round(slope, 2),
        "rss_after_answer_mb": round(float(np.median(after)), 1) if after else None,
        "rss_30s_medians_mb": [round(float(r), 1) for r in rss],
        "audio_stored_s": round(audio_seconds, 1),
        "audio_spoken_s": round(spoken, 1),
        "wer": round(word_error_rate(reference, text), 4),
        "missing_words": round(missing_word_rate(reference, text), 4),
        "text": text,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the answer (default 60)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    opts = parser.parse_args()

    from companion.harness.virtual_audio import VirtualAudio

    with tempfile.TemporaryDirectory(prefix="companion-long-") as tmp:
        workdir = Path(tmp)
        home = workdir / "home"
        home.mkdir(mode=0o700)
        with VirtualAudio(workdir / "audio") as audio:
            env = {**__import__("os").environ, **audio.env, "COMPANION_HOME": str(home)}
            result = long_reflection(audio, env, opts.minutes, workdir)
    if opts.json:
        print(json.dumps({k: v for k, v in result.items() if k != "text"}))
    else:
        print(f"one answer of {result['minutes']} min through `companion reflect` (whisper, real time)")
        print(f"  peak memory            {result['peak_rss_mb']} MB")
        print(f"  after 1 min / at end   {result['rss_after_1_min_mb']} MB / {result['rss_at_end_mb']} MB")
        print(f"  growth                 {result['rss_growth_mb_per_10_min']} MB per 10 min")
        print(f"  after the answer       {result['rss_after_answer_mb']} MB (storing it, the closing line)")
        print(f"  audio stored / spoken  {result['audio_stored_s']} s / {result['audio_spoken_s']} s")
        print(f"  word error rate        {result['wer'] * 100:.1f} % ({result['entries']} entry)")
        print(f"  words missing          {result['missing_words'] * 100:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
