"""Real rooms, made by code for the tests and benchmarks: a fan, other people talking (babble summed
from real recordings of other speakers), music, and speech mixed into them at a chosen loudness.

Everything is 16 kHz mono float32 and made the same way every time (seeded), so a figure measured
on it can be measured again:

- `fan`: brown noise (a random walk, its drift removed), low-passed at about 1.5 kHz with a gentle
  slope, plus the hum of the motor and the blades (100 Hz and its harmonics, slowly wavering): the
  broadband rush and low hum of a desk fan.
- `babble`: `talkers` real recordings of speakers who are not the one measured (Debian's
  pocketsphinx-testdata: the cards, digits and command recordings), each looped from its own
  starting point, summed at equal loudness: several people talking at once, no words to follow.
- `music`: a slow chord progression of soft plucked tones with a little noise, made in code.
- `mix(speech, noise, snr_db)`: the noise scaled so that the speech's power, measured over its voiced
  part (frames within 30 dB of its loudest), is `snr_db` above the noise's power.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from companion.audio.resample import resample

RATE = 16000
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
OTHER_SPEAKERS = [  # real speech of other people than the LibriVox reader
    *(POCKETSPHINX / "cards" / f"00{i}.wav" for i in range(1, 6)),
    POCKETSPHINX / "goforward.raw", POCKETSPHINX / "numbers.raw", POCKETSPHINX / "something.raw",
    POCKETSPHINX / "tidigits" / "dhd.2934z.raw",
]


def _level(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


def _frame_powers(x: np.ndarray, frame: int = 480) -> np.ndarray:
    """The mean power of each whole `frame` of `x`."""
    n = len(x) // frame
    return np.mean(np.square(x[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)


def voiced_power(speech: np.ndarray, frame: int = 480) -> float:
    """The mean power of the frames of `speech` within 30 dB of its loudest (its pauses left out)."""
    if len(speech) < frame:
        return _level(speech)
    powers = _frame_powers(speech, frame)
    loud = powers[powers >= powers.max() * 1e-3]
    return float(loud.mean())


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, offset: int = 0) -> np.ndarray:
    """`speech` with `noise` under it at `snr_db` (the noise looped or cut to length)."""
    noise = fit(noise, len(speech), offset)
    gain = np.sqrt(voiced_power(speech) / (_level(noise) * 10 ** (snr_db / 10)))
    return (speech + gain * noise).astype(np.float32)


def at_level(noise: np.ndarray, speech_like: np.ndarray, snr_db: float) -> np.ndarray:
    """`noise` scaled as `mix` would scale it under `speech_like` (for noise played on its own)."""
    gain = np.sqrt(voiced_power(speech_like) / (_level(noise) * 10 ** (snr_db / 10)))
    return (gain * noise).astype(np.float32)


def fit(noise: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """`noise` looped from `offset` to exactly `length` samples."""
    if len(noise) == 0:
        return np.zeros(length, np.float32)
    reps = (offset + length) // len(noise) + 1
    return np.tile(noise, reps)[offset : offset + length].astype(np.float32)


def fan(seconds: float, seed: int = 1) -> np.ndarray:
    """A desk fan: a low broadband rush with the motor's hum, at an RMS of about 0.05."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    walk = np.cumsum(rng.standard_normal(n))
    walk -= signal.savgol_filter(walk, 4001, 2) if n > 4001 else walk.mean()  # the slow drift removed
    b, a = signal.butter(2, 1500 / (RATE / 2))
    rush = signal.lfilter(b, a, walk + 0.6 * rng.standard_normal(n) * walk.std())
    t = np.arange(n) / RATE
    waver = 1 + 0.01 * np.sin(2 * np.pi * 0.3 * t)
    hum = sum(np.sin(2 * np.pi * f * waver * t + k) / (k + 1) for k, f in enumerate((100, 200, 300, 400)))
    out = rush / (rush.std() + 1e-9) + 0.25 * hum
    return (0.05 * out / out.std()).astype(np.float32)


def read_speech(path: Path) -> np.ndarray:
    """A recording as 16 kHz mono float32 (pocketsphinx .raw files are 16 kHz 16-bit mono)."""
    if path.suffix == ".raw":
        return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(samples.mean(axis=1), rate, RATE)


def babble(seconds: float, talkers: int = 6, seed: int = 2, sources: list[Path] | None = None) -> np.ndarray:
    """Several people talking at once: real recordings of other speakers, each looped from its own
    place and summed at equal loudness (its pauses shortened so each talker talks most of the time)."""
    rng = np.random.default_rng(seed)
    sources = sources or OTHER_SPEAKERS
    n = int(seconds * RATE)
    clips = [_without_long_pauses(read_speech(p)) for p in sources if p.exists()]
    if not clips:
        raise FileNotFoundError("no recordings of other speakers (install pocketsphinx-testdata)")
    out = np.zeros(n, np.float64)
    for k in range(talkers):
        clip = clips[k % len(clips)]
        talker = fit(clip, n, int(rng.integers(0, len(clip))))
        out += talker / np.sqrt(voiced_power(clip))
    out /= np.sqrt(talkers)
    return (0.05 * out / (out.std() + 1e-9)).astype(np.float32)


def _without_long_pauses(x: np.ndarray, frame: int = 480) -> np.ndarray:
    n = len(x) // frame
    frames = x[: n * frame].reshape(n, frame)
    power = _frame_powers(x, frame)
    keep = power >= power.max() * 1e-3
    return frames[keep].reshape(-1) if keep.any() else x


def music(seconds: float, seed: int = 3) -> np.ndarray:
    """Soft music in another room: plucked chords changing every two seconds, a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 329.6)]
    beat = int(0.5 * RATE)
    for k, start in enumerate(range(0, n, beat)):
        chord = chords[(k // 4) % len(chords)]
        f = chord[k % 3] * (2 if rng.random() < 0.3 else 1)
        length = min(int(1.5 * RATE), n - start)
        t = np.arange(length) / RATE
        note = np.exp(-2.5 * t) * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t))
        out[start : start + length] += note
    out += 0.02 * rng.standard_normal(n)
    return (0.05 * out / out.std()).astype(np.float32)


NOISES = {"fan": fan, "babble": babble, "music": music}


def voice_span(samples: np.ndarray, frame: int = 480) -> tuple[float, float]:
    """Where a clip's voice begins and ends, in seconds (frames within 20 dB of its loudest; the room
    tone of the recording is further down)."""
    power = _frame_powers(samples, frame)
    loud = np.flatnonzero(power >= power.max() * 1e-2)
    return float(loud[0] * frame / RATE), float((loud[-1] + 1) * frame / RATE)
