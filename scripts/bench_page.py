#!/usr/bin/env python3
"""Page benchmark: the size of the private page (`companion page`) for an hour of answers, and
whether its compact recordings are still understood.

An hour of real human speech (the five LibriVox clips of pocketsphinx-testdata, played one after
another with short pauses, cut into one-minute answers) is stored as 60 reflection answers with their
words (the clips' published transcripts, timed across each clip), spread over four weeks with a
check-in naming body states each day. The page for all of it is built as `companion page --all`
builds it: every recording encoded to Ogg Opus and embedded. Measured: page size, size per minute
of speech, time to build, peak memory; then the word error rate of the speech model on the five
clips as they are, and as decoded from the page's Opus.

    .venv/bin/python scripts/bench_page.py [--minutes 60] [--no-wer] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from speech_fixtures import librivox_utterances  # noqa: E402

GOAL_KB_PER_MINUTE, GOAL_HOUR_MB = 250.0, 20.0
RATE = 16000
PAUSE = 0.6  # seconds between clips
CHECKINS = ["tight and tired", "calm and warm", "heavy", "restless but open", "grounded", "light and calm", "tense"]


def speech_track(seconds: float) -> tuple[np.ndarray, list[dict]]:
    """`seconds` of the LibriVox clips one after another, with their words timed evenly over each clip."""
    clips = [(sf.read(str(path), dtype="float32")[0], text.split()) for path, text in librivox_utterances()]
    samples, words, t = [], [], 0.0
    while t < seconds:
        for audio, text in clips:
            length = len(audio) / RATE
            step = length / len(text)
            words += [{"word": w, "start": round(t + i * step, 2), "end": round(t + (i + 0.8) * step, 2), "conf": 0.9}
                      for i, w in enumerate(text)]
            samples += [audio, np.zeros(int(PAUSE * RATE), dtype=np.float32)]
            t += length + PAUSE
    return np.concatenate(samples)[: int(seconds * RATE)], [w for w in words if w["end"] <= seconds]


def fill(store, minutes: int) -> float:
    """`minutes` one-minute answers and a check-in a day over four weeks; returns seconds of speech kept."""
    from companion.notice.flow import save_checkin

    track, words = speech_track(60.0)
    folder = store.root / "audio" / "bench"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = datetime.now().astimezone().replace(microsecond=0) - timedelta(days=28)
    for n in range(minutes):
        path = folder / f"answer-{n}.wav"
        sf.write(str(path), track, RATE, subtype="PCM_16")
        at = start + timedelta(hours=n * 28 * 24 / max(minutes, 1))
        store.add_entry("reflection", " ".join(w["word"] for w in words), prompt="What felt important today?",
                        words=words, audio=path, duration=60.0, started_at=at)
    for day in range(28):
        entry = save_checkin(store, CHECKINS[day % len(CHECKINS)]).entry_id
        at = (start + timedelta(days=day, hours=9)).isoformat(timespec="seconds")
        store.db.execute("UPDATE entries SET started_at = ? WHERE id = ?", [at, entry])
    return minutes * 60.0


def word_error_rates() -> dict:
    """The speech model's WER on the clips as they are and through the page's Opus encoding."""
    from companion.audio.files import compact_speech
    from companion.speech import models
    from companion.textnorm import word_error_rate

    engine = models.load(models.choose("whisper"))
    refs, plain, opus = [], [], []
    for path, text in librivox_utterances():
        samples, _ = sf.read(str(path), dtype="float32")
        decoded, _ = sf.read(io.BytesIO(compact_speech(path)), dtype="float32")
        refs.append(text)
        plain.append(" ".join(t.text for t in engine.transcribe(samples)))
        opus.append(" ".join(t.text for t in engine.transcribe(decoded)))
    return {"wer_wav": word_error_rate(" ".join(refs), " ".join(plain)),
            "wer_opus": word_error_rate(" ".join(refs), " ".join(opus)), "model": engine.model_name}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--no-wer", action="store_true", help="Skip the word error rate through Opus.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        os.environ["COMPANION_HOME"] = home
        from companion.review.page_build import page_html
        from companion.store.database import Store

        with Store.open() as store:
            speech = fill(store, args.minutes)
            started = time.perf_counter()
            text = page_html(store, everything=True)
            build = time.perf_counter() - started
    size = len(text.encode())
    minutes = speech / 60
    result = {"minutes": minutes, "page_mb": size / 1e6, "page_kb_per_minute": size / 1024 / minutes,
              "hour_mb": size / 1e6 * 60 / minutes, "build_s": build,
              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if not args.no_wer:
        result.update(word_error_rates())
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{minutes:.0f} min of speech: page {result['page_mb']:.1f} MB ({result['page_kb_per_minute']:.0f} KB/min; "
          f"goal ≤ {GOAL_KB_PER_MINUTE:.0f}), an hour {result['hour_mb']:.1f} MB (goal ≤ {GOAL_HOUR_MB:.0f}); "
          f"built in {build:.1f} s, peak {result['peak_mb']:.0f} MB")
    if "wer_opus" in result:
        print(f"WER ({result['model']}): {result['wer_wav']:.1%} on the WAV clips, {result['wer_opus']:.1%} through Opus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
