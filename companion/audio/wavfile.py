"""A WAV writer that keeps the file valid while it grows, so a crash loses at most a second.

When encryption is on for the data folder, a recording inside it is written as an encrypted stream
instead (companion/crypto.py): one sealed chunk a second, synced, so it is never on disk in the clear
and a crash loses at most the last second. Read recordings with companion/audio/files.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from companion.audio import files
from companion.events import SAMPLE_RATE
from companion.paths import make_private
from companion.store import crypto, sealed

AUTO = "auto"


class GrowingWav:
    """16-bit mono PCM WAV; the header is rewritten and the file synced every `sync_every` seconds.

    `keys`: "auto" (default) encrypts when encryption is on and `path` is in the data folder;
    a `crypto.Keys` always encrypts; None never does.
    """

    def __init__(self, path: Path, rate: int = SAMPLE_RATE, sync_every: float = 1.0,
                 keys: crypto.Keys | str | None = AUTO) -> None:
        self.path = path
        self.rate = rate
        self._sync_every = int(sync_every * rate)
        self._unsynced = 0
        self.frames = 0
        if keys == AUTO:
            keys = files.sealing_keys(path)
        self._sealed: sealed.SealedWriter | None = None
        if keys is not None:
            chunk = max(1, self._sync_every) * 2
            self._sealed = sealed.SealedWriter(path, keys, sealed.KIND_PCM16, rate, chunk)
            return
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        make_private(path)
        self._file.write(self.header(0, self.rate))

    @property
    def encrypted(self) -> bool:
        return self._sealed is not None

    @staticmethod
    def header(frames: int, rate: int = SAMPLE_RATE) -> bytes:
        """The 44-byte header of a 16-bit mono PCM WAV holding `frames` samples."""
        return files.wav_header(frames, rate)

    def write(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        if self._sealed is not None:  # each full second is sealed, written and synced at once
            self._sealed.write(pcm.tobytes())
            self.frames += len(pcm)
            return
        self._file.write(pcm.tobytes())
        self.frames += len(pcm)
        self._unsynced += len(pcm)
        if self._unsynced >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        """Make everything written so far durable and readable as a valid WAV (encrypted: every
        complete second already is; the rest is sealed on close)."""
        if self._sealed is not None:
            return
        self._file.flush()
        end = self._file.tell()
        self._file.seek(0)
        self._file.write(self.header(self.frames, self.rate))
        self._file.seek(end)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._unsynced = 0

    def truncate(self, seconds: float) -> None:
        """Drop everything after `seconds` (used to trim the trailing silence of an answer)."""
        keep = min(self.frames, max(0, int(seconds * self.rate)))
        if self._sealed is not None:
            self._sealed.truncate(keep * 2)
            self.frames = keep
            return
        self._file.flush()
        self._file.truncate(44 + keep * 2)
        self._file.seek(44 + keep * 2)
        self.frames = keep
        self.sync()

    @property
    def duration(self) -> float:
        return self.frames / self.rate

    def close(self) -> None:
        if self._sealed is not None:
            self._sealed.close()
            return
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> "GrowingWav":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def join_recordings(first: Path, second: Path, target: Path, gap: float = 0.4) -> float:
    """Write `first`, a short quiet, then `second` into a new recording at `target` (encrypted like
    any recording when encryption is on); returns where `second` begins in it, in seconds."""
    a, rate = files.read_samples(first)
    b, rate_b = files.read_samples(second)
    if rate != SAMPLE_RATE or rate_b != SAMPLE_RATE:
        raise ValueError("only Companion's own 16 kHz recordings are joined")
    with GrowingWav(target) as wav:
        wav.write(a)
        wav.write(np.zeros(int(gap * SAMPLE_RATE), np.float32))
        wav.write(b)
    return len(a) / SAMPLE_RATE + gap
