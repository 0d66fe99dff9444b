"""Soft breathing tones generated in code: a rising chime for breathing in, a lower falling one for out."""

from __future__ import annotations

import numpy as np

from companion.voice.loudness import even_loudness

TONE_SECONDS = 0.8
ATTACK = 0.03  # seconds: soft, but a clear onset
PITCHES = {"inhale": (330.0, 440.0), "exhale": (392.0, 262.0)}  # start and end frequency (Hz)


def tone(kind: str, rate: int, seconds: float = TONE_SECONDS, volume: float = 0.9) -> np.ndarray:
    """A short, soft gliding tone: up for "inhale", down for "exhale"; float32 mono at `rate`, as
    loud as the voice at the same `volume`."""
    if kind not in PITCHES:
        raise ValueError(f"no tone for {kind!r}")
    start, end = PITCHES[kind]
    n = int(seconds * rate)
    t = np.arange(n) / rate
    freq = start * (end / start) ** (t / seconds)  # an even glide in pitch
    phase = 2 * np.pi * np.cumsum(freq) / rate
    wave = np.sin(phase) + 0.25 * np.sin(2 * phase)  # a little warmth
    attack = np.minimum(1.0, t / ATTACK)
    decay = np.exp(-3.0 * t / seconds) * np.minimum(1.0, (seconds - t) / 0.15)  # fades to nothing
    return even_loudness(wave * attack * decay, rate, volume)
