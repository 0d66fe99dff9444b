"""Pure voice-activity detection on 16 kHz float audio: an energy gate with an adaptive noise floor.

It needs no model, behaves the same on every machine and is cheap enough to run on every chunk.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

FRAME = 480  # 30 ms at 16 kHz


@dataclass
class VadConfig:
    min_level_db: float = -50.0  # never call anything quieter than this speech
    margin_db: float = 12.0  # speech is this far above the noise floor
    start_frames: int = 3  # 90 ms of voice opens a segment
    floor_window: int = 166  # frames (5 s) over which the noise floor is estimated
    floor_percentile: float = 10.0  # speech has gaps: the quietest tenth of the window is the room
    warmup_frames: int = 5  # frames heard before anything can count as voice
    floor_rise_db_per_s: float = 2.0  # how fast the floor may rise when the room gets louder


class VoiceSegments:
    """The clock and segment state every voice-activity detector shares: `frames` counted so far
    (each `frame_seconds` long), when voice was last heard, and whether a segment is open."""

    frame_seconds: float
    frames: int
    in_speech: bool
    last_voice_time: float | None
    speech_started_at: float | None
    _voiced_run: int

    @property
    def now(self) -> float:
        return self.frames * self.frame_seconds

    def silence_for(self) -> float:
        """Seconds since voice was last heard (since the start if never)."""
        return self.now - (self.last_voice_time if self.last_voice_time is not None else 0.0)

    def end_segment(self) -> None:
        self.in_speech = False
        self._voiced_run = 0
        self.speech_started_at = None


class EnergyVad(VoiceSegments):
    """Feed 16 kHz samples; ask whether speech is active and when voice was last heard."""

    frame_seconds = FRAME / 16000

    def __init__(self, config: VadConfig | None = None) -> None:
        self.config = config or VadConfig()
        self.noise_db = -120.0
        self._levels: collections.deque[float] = collections.deque(maxlen=self.config.floor_window)
        self._pending = np.zeros(0, dtype=np.float32)
        self._voiced_run = 0
        self.frames = 0
        self.in_speech = False
        self.last_voice_time: float | None = None  # seconds since the start of the stream
        self.last_sound_time: float | None = None  # the last frame above the gate, even a lone one
        self.speech_started_at: float | None = None

    @staticmethod
    def level_db(frame: np.ndarray) -> float:
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))) + 1e-10)
        return 20.0 * np.log10(rms)

    def is_voiced(self, level: float) -> bool:
        c = self.config
        return len(self._levels) >= c.warmup_frames and level > max(c.min_level_db, self.noise_db + c.margin_db)

    def _update_floor(self, level: float) -> None:
        """The floor follows the quiet part of the recent window: down at once, up slowly, so
        a long stretch of speech cannot lift it to the level of the voice."""
        self._levels.append(level)
        target = float(np.percentile(self._levels, self.config.floor_percentile))
        if len(self._levels) <= self.config.warmup_frames or target < self.noise_db:
            self.noise_db = target
        else:
            self.noise_db += min(target - self.noise_db, self.config.floor_rise_db_per_s * FRAME / 16000)

    def accept(self, samples: np.ndarray) -> None:
        buf = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n = len(buf) // FRAME
        for i in range(n):
            level = self.level_db(buf[i * FRAME : (i + 1) * FRAME])
            self._update_floor(level)
            self.frames += 1
            now = self.frames * FRAME / 16000
            if self.is_voiced(level):
                self.last_sound_time = now
                self._voiced_run += 1
                if self._voiced_run >= self.config.start_frames:
                    if not self.in_speech:
                        self.speech_started_at = now - self._voiced_run * FRAME / 16000
                    self.in_speech = True
                    self.last_voice_time = now
            else:
                self._voiced_run = 0
        self._pending = buf[n * FRAME :]

