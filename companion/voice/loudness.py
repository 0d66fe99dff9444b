"""One loudness for everything Companion says and plays: each rendered phrase, whichever voice made
it, and each practice tone is scaled so that its active part has the same level (pure, no I/O)."""

from __future__ import annotations

import numpy as np

TARGET_RMS = 0.1  # level of the active part (about -20 dBFS), before the volume setting
PEAK_LIMIT = 0.95  # a clip is scaled down as a whole rather than clipped
FRAME_SECONDS = 0.02
ACTIVE_BELOW_PEAK_DB = 35.0  # frames quieter than this below the loudest frame are pauses, not voice
LEAD_BELOW_PEAK_DB = 45.0  # the quiet a voice begins with: frames this far below the loudest, before the first louder one
LEAD_KEPT = 0.01  # seconds of it kept (the breath before the first sound)


def active_level(samples: np.ndarray, rate: int) -> float:
    """RMS of the frames that carry sound (pauses between words and sentences left out), or 0.0."""
    frame = max(1, int(FRAME_SECONDS * rate))
    usable = len(samples) // frame * frame
    if usable == 0:
        return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    energy = np.mean(np.square(samples[:usable].reshape(-1, frame), dtype=np.float64), axis=1)
    loudest = float(energy.max())
    if loudest <= 0.0:
        return 0.0
    active = energy[energy >= loudest * 10 ** (-ACTIVE_BELOW_PEAK_DB / 10)]
    return float(np.sqrt(active.mean()))


def without_leading_quiet(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` from LEAD_KEPT before their first sound: a phrase starts when it is played, not after
    the tens of milliseconds of quiet a voice renders before it."""
    frame = max(1, int(FRAME_SECONDS / 4 * rate))
    usable = len(samples) // frame * frame
    if usable == 0:
        return samples
    energy = np.mean(np.square(samples[:usable].reshape(-1, frame), dtype=np.float64), axis=1)
    loudest = float(energy.max())
    if loudest <= 0.0:
        return samples
    first = int(np.argmax(energy >= loudest * 10 ** (-LEAD_BELOW_PEAK_DB / 10)))
    return samples[max(0, first * frame - int(LEAD_KEPT * rate)):]


def even_loudness(samples: np.ndarray, rate: int, volume: float = 1.0) -> np.ndarray:
    """`samples` scaled so that their active part is at TARGET_RMS × volume, peaks held under
    PEAK_LIMIT; silence stays silence. float32 mono."""
    samples = np.asarray(samples, dtype=np.float32)
    level = active_level(samples, rate)
    if level <= 1e-6:
        return samples.copy()
    gain = TARGET_RMS * volume / level
    peak = float(np.max(np.abs(samples)))
    if peak * gain > PEAK_LIMIT:
        gain = PEAK_LIMIT / peak
    return (samples * gain).astype(np.float32)
