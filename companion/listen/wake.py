"""Waiting for the wake name: voice-activity detection first, then one quick decode of the start of
each voiced segment, checked for the name. Nothing is kept: the samples of a segment live only until
it is checked or ends, and a segment without the name is dropped.

`WakeDetector` takes 16 kHz samples and a `decode` function (a window of audio -> its words), so it
is tested with any recognizer and measured faster than real time on recordings.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from companion.events import SAMPLE_RATE
from companion.speech.silero import VoiceDetector
from companion.understand.intents import called, understand

NAME_PAUSE = 0.35  # seconds of quiet after a short voiced run: the name may have been said alone
WAKE_WINDOW = 2.0  # seconds from the start of a segment that are checked for the name
PRE_ROLL = 0.3  # seconds kept before the detected start of the voice
END_GAP = 0.8  # seconds of quiet that end a segment (a request said in one breath with the name)
LONGEST = 15.0  # seconds: a request is a sentence or two; a longer segment ends here
ALONE_LIKENESS = 0.7  # a word said alone is the name when its letters are this alike (0 to 1)
_LETTERS = re.compile(r"[a-z]+")


GREETINGS = ("hey", "hi", "okay", "ok", "k", "oh", "um", "uh", "a")  # before the name ("Hey" is often heard as "A")


def sounds_like_name(heard: str, name: str) -> bool:
    """Whether `heard` (one short utterance said alone) is the wake name as a small model may spell
    it, with a greeting or a hesitation before it: Whisper tiny writes a lone "Companion" as
    "Comparian" or "Compagnion", while inside a sentence it spells it right. Only a word said alone
    is judged this way; a sentence must begin with the name itself (`called`)."""
    words = _LETTERS.findall(heard.lower())
    if len(words) == 2 and words[0] in GREETINGS:
        words = words[1:]
    if len(words) != 1 or len(name.split()) != 1:
        return False
    return _alike(words[0], "".join(_LETTERS.findall(name.lower())))


def _alike(word: str, wanted: str) -> bool:
    if not word or not wanted or word[0] != wanted[0] or abs(len(word) - len(wanted)) > 2:
        return False
    return difflib.SequenceMatcher(None, word, wanted).ratio() >= ALONE_LIKENESS



def addressed_by_a_near_name(heard: str, name: str) -> str | None:
    """The request after a first word that is the name misspelt and set apart as one addresses
    someone ("Comparian, help me ground."), when what follows is a request Companion understands;
    else None. "Compassion is a practice" is not set apart, so it is not taken for the name."""
    found = re.match(r"\s*(?:(?:hey|hi|okay|ok|oh|um|uh|a)[\s,.!-]+)?([A-Za-z'-]+)\s*[,.!?]\s*(\S.*)$", heard, re.I)
    if not found or len(name.split()) != 1:
        return None
    if not _alike("".join(_LETTERS.findall(found.group(1).lower())), "".join(_LETTERS.findall(name.lower()))):
        return None
    rest = found.group(2).strip(" ,.;:!?")
    return rest if rest and understand(rest, name).intent not in ("unknown", "cancel") else None


@dataclass(frozen=True)
class Called:
    """The name was heard at the start of a segment; `rest` is what followed it in the checked window."""

    at: float  # stream seconds when the check was made
    heard: str  # the window's words
    rest: str  # the words after the name ("" when the name was said alone, so far)
    pause: bool  # checked at a pause after the voice (the name may stand alone), not mid-speech


@dataclass(frozen=True)
class Segment:
    """A voiced segment that ended (quiet for END_GAP, or LONGEST reached), with its samples."""

    start: float
    end: float
    samples: np.ndarray


class Segmenter:
    """Voiced segments of a stream, with a check point early in each (`check_due`)."""

    def __init__(self, detector: VoiceDetector | None = None) -> None:
        self.vad = detector or VoiceDetector()
        self._recent = np.zeros(0, np.float32)  # the last PRE_ROLL seconds before a segment
        self._parts: list[np.ndarray] = []
        self._start = 0.0
        self.checked = False  # the current segment's start was checked for the name

    @property
    def open(self) -> bool:
        return bool(self._parts)

    @property
    def length(self) -> float:
        return sum(len(p) for p in self._parts) / SAMPLE_RATE

    def samples(self) -> np.ndarray:
        return np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)

    def accept(self, samples: np.ndarray) -> Segment | None:
        """Feed samples; the segment that ended with them, if one did."""
        samples = samples.astype(np.float32, copy=False)
        was = self.vad.in_speech
        self.vad.accept(samples)
        if self.vad.in_speech and not was:
            self._start = self.vad.now - len(samples) / SAMPLE_RATE - len(self._recent) / SAMPLE_RATE
            self._parts, self.checked = [self._recent, samples], False
        elif self._parts:
            self._parts.append(samples)
        else:
            self._recent = np.concatenate([self._recent, samples])[-int(PRE_ROLL * SAMPLE_RATE):]
        if self._parts and (self.vad.silence_for() >= END_GAP or self.length >= LONGEST):
            return self.close()
        return None

    def check_due(self) -> bool:
        """The start of the current segment is ready to be checked for the name: the voice paused
        after a short run, or WAKE_WINDOW seconds have been heard."""
        if not self._parts or self.checked:
            return False
        return self.length >= WAKE_WINDOW or (self.vad.silence_for() >= NAME_PAUSE and self.length <= WAKE_WINDOW + NAME_PAUSE)

    def close(self) -> Segment:
        segment = Segment(self._start, self.vad.now, self.samples())
        self._parts, self._recent, self.checked = [], np.zeros(0, np.float32), False
        self.vad.end_segment()
        return segment

    def reset(self) -> None:
        """Forget what was heard (after Companion spoke, or a flow ran)."""
        self._parts, self._recent, self.checked = [], np.zeros(0, np.float32), False
        self.vad.end_segment()


class WakeDetector:
    """Calls `decode` on the first WAKE_WINDOW seconds of each voiced segment, once, and reports
    `Called` when those words begin with the wake name."""

    def __init__(self, decode: Callable[[np.ndarray], str], name: str = "companion",
                 segmenter: Segmenter | None = None) -> None:
        self.decode, self.name = decode, name
        self.segmenter = segmenter or Segmenter()
        self.checks = 0  # decodes made (a measure of the cost of waiting)

    def accept(self, samples: np.ndarray) -> Called | None:
        seg = self.segmenter
        seg.accept(samples)
        if not seg.check_due():
            return None
        seg.checked = True
        self.checks += 1
        pause = seg.vad.silence_for() >= NAME_PAUSE
        heard = self.decode(seg.samples()[: int((WAKE_WINDOW + PRE_ROLL) * SAMPLE_RATE)])
        rest = called(heard, self.name)
        if rest is None and pause and sounds_like_name(heard, self.name):
            rest = ""
        if rest is None:
            rest = addressed_by_a_near_name(heard, self.name)
        if rest is None:
            return None
        return Called(seg.vad.now, heard, rest, pause)
