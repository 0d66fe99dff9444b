"""Small typed events that flow between Companion's modules (in the spirit of rhasspy/wyoming)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16000
"""Every module below the audio layer works on 16 kHz mono float32 audio."""


@dataclass(frozen=True)
class AudioChunk:
    """A block of 16 kHz mono float32 samples; `start` is seconds since the stream began."""

    samples: np.ndarray
    start: float = 0.0
    rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Word:
    """One recognised word; times are seconds from the start of the audio it came from."""

    word: str
    start: float
    end: float
    conf: float

    def to_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3), "conf": round(self.conf, 3)}

    @classmethod
    def from_dict(cls, d: dict) -> "Word":
        return cls(str(d["word"]), float(d["start"]), float(d["end"]), float(d.get("conf", 1.0)))


@dataclass(frozen=True)
class Partial:
    """Live, unstable text of the utterance being spoken."""

    text: str


@dataclass(frozen=True)
class Transcript:
    """A final utterance: its text and its words with timings."""

    text: str
    words: list[Word] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Synthesize:
    """A phrase for Companion's voice to speak."""

    text: str


SpeechEvent = Partial | Transcript
