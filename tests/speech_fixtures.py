"""Real speech for tests: the pocketsphinx LibriVox clips and espeak-ng synthesis.

Plain helpers (no pytest fixtures), importable from test modules as
``from speech_fixtures import ...`` (pytest's default import mode puts ``tests/``
on sys.path; conftest.py does too).
Word error rate lives in ``companion.textnorm.word_error_rate``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

# Debian package pocketsphinx-testdata: 5 English read-speech clips, 16 kHz mono.
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")

_LINE = re.compile(r"^\s*(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^()]+)\)\s*$")


def librivox_utterances() -> list[tuple[Path, str]]:
    """(wav path, reference transcript) for every clip in LIBRIVOX/transcription."""
    transcription = LIBRIVOX / "transcription"
    if not transcription.is_file():
        raise FileNotFoundError(
            f"{transcription} is missing: install pocketsphinx-testdata (run scripts/test.sh)"
        )
    out: list[tuple[Path, str]] = []
    for line in transcription.read_text().splitlines():
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"unexpected line in {transcription}: {line!r}")
        wav = LIBRIVOX / f"{m['id']}.wav"
        if not wav.is_file():
            raise FileNotFoundError(wav)
        out.append((wav, " ".join(m["text"].split())))
    return out


def espeak_wav(text: str, out: Path, voice: str = "en-us", speed: int = 150, ssml: bool = False) -> Path:
    """Synthesise `text` with espeak-ng into the WAV file `out` (22050 Hz mono); `ssml`: `text` is
    SSML (`<break time="600ms"/>` for a pause)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (run scripts/test.sh)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), *(["-m"] if ssml else []), "-w", str(out), "--", text],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
        raise RuntimeError(f"espeak-ng failed ({res.returncode}): {res.stderr.strip()}")
    return out


def silence_padded(wav: Path, out: Path, before: float = 0.3, after: float = 0.3) -> Path:
    """Copy `wav` to `out` with `before`/`after` seconds of digital silence added."""
    data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    pad_b = np.zeros((int(round(before * rate)), data.shape[1]), dtype=np.float32)
    pad_a = np.zeros((int(round(after * rate)), data.shape[1]), dtype=np.float32)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), np.concatenate([pad_b, data, pad_a]), rate, subtype="PCM_16")
    return out


def rms(x: np.ndarray) -> float:
    """Root mean square of a signal (any shape)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def active_span(x: np.ndarray, rate: int, threshold: float = 0.01, frame: float = 0.02) -> tuple[float, float] | None:
    """(first, last) second where 20 ms frame RMS exceeds `threshold`; None if never."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    n = max(1, int(rate * frame))
    frames = len(x) // n
    if frames == 0:
        return None
    e = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1))
    idx = np.flatnonzero(e > threshold)
    if idx.size == 0:
        return None
    return idx[0] * n / rate, (idx[-1] + 1) * n / rate


def natural_wav(text: str, out: Path, rate: int = 160) -> Path:
    """`text` spoken by a neural voice (Piper, the real one Companion speaks with) into the WAV file
    `out`: closer to a person than espeak-ng, for tests whose answers Whisper base must write down as
    it would a person's (it hears espeak-ng's robotic speech less well than tiny.en does)."""
    from companion.voice.base import VoiceSettings
    from companion.voice.choose import open_voice

    samples, sample_rate = open_voice(VoiceSettings("joe", rate)).render(text, keep=False)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    import soundfile

    soundfile.write(str(out), samples, sample_rate, subtype="PCM_16")
    return out
