"""The microphone: a sounddevice input stream whose callback only queues; resampling happens here."""

from __future__ import annotations

import queue
import time

import numpy as np

from companion.audio import devices
from companion.audio.resample import StreamResampler, to_mono
from companion.errors import DeviceError
from companion.events import SAMPLE_RATE, AudioChunk


class Microphone:
    """Opens the input device at its native rate and yields 16 kHz mono `AudioChunk`s."""

    def __init__(self, device: str | int | None = None, block_seconds: float = 0.05, rate: int | None = None,
                 latency: str | float = "high") -> None:
        self.index = devices.resolve(device, "input")
        info = devices.describe(self.index)
        self.name = info["name"]
        self.rate = int(rate or info["default_samplerate"])  # the device's own rate unless told otherwise
        self.channels = 1
        self._block = int(self.rate * block_seconds)
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._resampler = StreamResampler(self.rate, SAMPLE_RATE)
        self._position = 0.0
        self._stream = None
        self._latency = latency  # "low" where a spoken command must be acted on at once
        self.overflows = 0

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(indata.copy())

    def start(self) -> "Microphone":
        import sounddevice as sd

        self._stream = devices.start_stream(
            lambda: sd.InputStream(device=self.index, samplerate=self.rate, channels=self.channels, dtype="float32",
                                   blocksize=self._block, latency=self._latency, callback=self._callback),
            "microphone", self.name, "--input-device")
        return self

    def read(self, timeout: float = 2.0) -> AudioChunk:
        """The next chunk of 16 kHz audio; DeviceError if the device stopped delivering."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                block = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise DeviceError(
                    f"the microphone '{self.name}' stopped sending sound",
                    "check that it is still connected; what you said so far is kept",
                ) from None
            samples = self._resampler.process(to_mono(block))
            if len(samples):
                chunk = AudioChunk(samples, self._position)
                self._position += chunk.duration
                return chunk
            if time.monotonic() > deadline:
                raise DeviceError(f"the microphone '{self.name}' stopped sending sound", "check that it is still connected")

    def drain(self) -> None:
        """Drop audio captured so far (for example Companion's own voice)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def stop(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:  # the device may already be gone
                pass
            self._stream = None

    def __enter__(self) -> "Microphone":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
