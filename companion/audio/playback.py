"""The speaker: one low-latency output stream that plays queued clips and can fall silent at once.

Clips are resampled to the device rate before they are queued; the callback only copies samples.
`clock()` counts frames actually handed to the device, so cues can be scheduled on the output clock.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from companion.audio import devices
from companion.audio.resample import resample


class Clip:
    """A sound queued for playback; `done` is set when it has been fully played or cancelled."""

    def __init__(self, samples: np.ndarray, start_frame: int | None) -> None:
        self.samples = samples
        self.start_frame = start_frame  # output-clock frame to start at; None = as soon as possible
        self.position = 0
        self.started_at_frame: int | None = None
        self.done = threading.Event()
        self.cancelled = False


class Speaker:
    def __init__(self, device: str | int | None = None, latency: str | float = 0.1) -> None:
        self.index = devices.resolve(device, "output")
        info = devices.describe(self.index)
        self.name = info["name"]
        self.rate = int(info["default_samplerate"])
        self._latency = latency
        self._clips: collections.deque[Clip] = collections.deque()
        self._frames = 0
        self._stream = None

    def _callback(self, outdata, frames, time_info, status) -> None:
        outdata.fill(0)
        now = self._frames
        for clip in list(self._clips):
            if clip.cancelled:
                continue
            offset = 0
            if clip.position == 0:
                start = now if clip.start_frame is None else clip.start_frame
                offset = start - now
                if offset >= frames:
                    continue
                offset = max(0, offset)
                clip.started_at_frame = now + offset
            n = min(frames - offset, len(clip.samples) - clip.position)
            outdata[offset : offset + n, 0] += clip.samples[clip.position : clip.position + n]
            clip.position += n
            if clip.position >= len(clip.samples):
                clip.done.set()
        while self._clips and (self._clips[0].done.is_set() or self._clips[0].cancelled):
            self._clips.popleft()
        self._frames += frames

    def start(self) -> "Speaker":
        import sounddevice as sd

        self._stream = devices.start_stream(
            lambda: sd.OutputStream(device=self.index, samplerate=self.rate, channels=1, dtype="float32",
                                    latency=self._latency, callback=self._callback),
            "speaker", self.name, "--output-device")
        return self

    def clock(self) -> int:
        """Frames handed to the device so far (the output clock)."""
        return self._frames

    @property
    def latency(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    def play(self, samples: np.ndarray, rate: int, at_frame: int | None = None) -> Clip:
        clip = Clip(resample(samples, rate, self.rate), at_frame)
        self._clips.append(clip)
        return clip

    def wait(self, clip: Clip, timeout: float | None = None) -> bool:
        """Wait until the clip has played, plus the device latency so the sound has left the speaker."""
        finished = clip.done.wait(timeout)
        if finished and not clip.cancelled:
            threading.Event().wait(self.latency)
        return finished

    def silence(self) -> None:
        """Stop every sound now."""
        for clip in list(self._clips):
            clip.cancelled = True
            clip.done.set()

    def stop(self) -> None:
        self.silence()
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:
                pass
            self._stream = None

    def __enter__(self) -> "Speaker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
