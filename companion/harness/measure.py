"""Measuring a guided run from the outside: cue onsets found in a recording of the speaker,
compared with the output-clock schedule in the run's timing log; and when the audio fell silent.
Used by the end-to-end tests and scripts/bench_practice.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import correlate

from companion.audio.resample import resample
from companion.practice import tones
from companion.voice.base import Voice

TEMPLATE_SECONDS = 0.3  # the start of each sound, matched against the recording
SEARCH = 0.35  # seconds either side of where a cue is expected
NOMINAL_LATENCY = 0.12  # rough device latency, only to centre the search


@dataclass(frozen=True)
class Onset:
    sound: str
    planned: float  # seconds on the output clock
    heard: float  # seconds into the recording
    error: float = 0.0  # heard - planned - (the run's median offset)


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _template(cue: dict, rate: int, voice: Voice) -> np.ndarray:
    if cue["kind"] == "tone":
        samples = tones.tone(cue["sound"], rate)
    else:
        samples, voice_rate = voice.render(cue["sound"])
        samples = resample(samples, voice_rate, rate)
    start = int(np.argmax(np.abs(samples) > 0.01 * np.max(np.abs(samples))))  # skip leading digital silence
    return samples[start : start + int(TEMPLATE_SECONDS * rate)], start


def gaps(log: list[dict]) -> list[tuple[int, int]]:
    """(output-clock frame, frames skipped) for each underflow of the run."""
    ends = [e for e in log if e["t"] == "end"]
    return [tuple(g) for g in ends[0].get("gaps", [])] if ends else []


def hit_by_gap(cue: dict, skipped: list[tuple[int, int]]) -> bool:
    """Whether an underflow fell on the start of this cue (so its beginning was never played)."""
    start, end = cue["frame"], cue["frame"] + int(TEMPLATE_SECONDS * cue["rate"])
    return any(frame < end and start < frame + lost for frame, lost in skipped)


def cue_onsets(recording: np.ndarray, rate: int, started_at: float, log: list[dict], voice: Voice) -> list[Onset]:
    """Every cue that played, found in the recording by cross-correlation with its own sound
    (except cues whose start an underflow fell on). `started_at` is the monotonic time of the
    recording's first sample."""
    played = {(p["sound"], p["planned"]) for p in log if p["t"] == "played"}
    skipped = gaps(log)
    onsets = []
    for cue in (c for c in log if c["t"] == "cue" and (c["sound"], c["frame"]) in played):
        if hit_by_gap(cue, skipped):
            continue
        out_rate = cue["rate"]
        expected = cue["mono"] + (cue["frame"] - cue["queued_clock"]) / out_rate + NOMINAL_LATENCY - started_at
        template, lead_in = _template(cue, rate, voice)
        lo = max(0, int((expected - SEARCH) * rate))
        hi = min(len(recording), int((expected + SEARCH) * rate) + len(template))
        window = recording[lo:hi]
        if len(window) <= len(template):
            continue
        best = int(np.argmax(correlate(window, template, mode="valid", method="fft")))
        heard = (lo + best - lead_in) / rate
        onsets.append(Onset(cue["sound"], cue["frame"] / out_rate, heard))
    if not onsets:
        return []
    offset = float(np.median([o.heard - o.planned for o in onsets]))
    return [Onset(o.sound, o.planned, o.heard, o.heard - o.planned - offset) for o in onsets]


def quiet_from(recording: np.ndarray, rate: int, after: float, hold: float = 0.25, threshold: float = 0.003,
               frame: float = 0.005) -> float | None:
    """The first time at or after `after` (seconds) from which the recording stays below `threshold`
    RMS for at least `hold` seconds; None if it never does."""
    step = int(frame * rate)
    start = max(0, int(after * rate))
    n = (len(recording) - start) // step
    if n <= 0:
        return None
    blocks = recording[start : start + n * step].reshape(n, step)
    loud = np.sqrt(np.mean(blocks**2, axis=1)) >= threshold
    need = int(round(hold / frame))
    run = 0
    for i, is_loud in enumerate(loud):
        run = 0 if is_loud else run + 1
        if run >= need:
            return (start + (i - need + 1) * step) / rate
    return None


def loud_before(recording: np.ndarray, rate: int, at: float, span: float = 0.3, threshold: float = 0.003) -> bool:
    """Whether there was sound in the `span` seconds before `at`."""
    part = recording[max(0, int((at - span) * rate)) : int(at * rate)]
    return len(part) > 0 and float(np.max(np.abs(part))) >= threshold * 2


def speech_end(samples: np.ndarray, rate: int, threshold: float = 0.01) -> float:
    """Seconds from the start of a clip to its last sound."""
    loud = np.flatnonzero(np.abs(samples) >= threshold)
    return (loud[-1] + 1) / rate if len(loud) else 0.0
