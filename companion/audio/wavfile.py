"""A WAV writer that keeps the file valid while it grows, so a crash loses at most a second."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from companion.events import SAMPLE_RATE
from companion.paths import make_private


class GrowingWav:
    """16-bit mono PCM WAV; the header is rewritten and the file synced every `sync_every` seconds."""

    def __init__(self, path: Path, rate: int = SAMPLE_RATE, sync_every: float = 1.0) -> None:
        self.path = path
        self.rate = rate
        self._sync_every = int(sync_every * rate)
        self._unsynced = 0
        self.frames = 0
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        make_private(path)
        self._file.write(self.header(0, self.rate))

    @staticmethod
    def header(frames: int, rate: int = SAMPLE_RATE) -> bytes:
        """The 44-byte header of a 16-bit mono PCM WAV holding `frames` samples."""
        data_bytes = frames * 2
        return struct.pack(
            "<4sI4s4sIHHIIHH4sI",
            b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", data_bytes,
        )

    def write(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        self._file.write(pcm.tobytes())
        self.frames += len(pcm)
        self._unsynced += len(pcm)
        if self._unsynced >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        """Make everything written so far durable and readable as a valid WAV."""
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
        self._file.flush()
        self._file.truncate(44 + keep * 2)
        self._file.seek(44 + keep * 2)
        self.frames = keep
        self.sync()

    @property
    def duration(self) -> float:
        return self.frames / self.rate

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> "GrowingWav":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
