"""Voices louder than the room's: where other voices never pause (a TV, a busy room) the voice
detector keeps one long segment open, so the start and the end of the person's own words are told by
their level instead. `LouderVoice` finds where a voice clearly louder than the open segment's running
level begins; `LouderRequest` follows one request's louder voice until it has fallen back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from companion.events import SAMPLE_RATE

LEVEL_FRAME = 320  # samples (20 ms) in one reading of the level
LEVEL_SMOOTH = 5  # readings (100 ms) averaged into the short-term level
ONSET_HISTORY = 125  # readings (2.5 s) of the segment whose median is its running level
ONSET_MIN_HISTORY = 40  # readings (0.8 s) of the segment heard before a louder voice can be told apart
ONSET_RISE_DB = 6.0  # a nearer voice: the short-term level this far above the running level
ONSET_WINDOW = 15  # readings (0.3 s) looked at for a rise...
ONSET_HOLD = 8  # ...of which this many (160 ms) must be up: one loud syllable of the room is not a voice
ONSET_PRE_ROLL = 0.15  # seconds kept before the rise (the room's voices before it only confuse the decode)
ONSET_EVERY = 1.0  # seconds at least between two checks begun by a louder voice (the cost of waiting)
ONSET_KEEP_GAP = 0.3  # seconds between segments over which the running level is kept (a segment cut at LONGEST)
REQUEST_TAIL = 0.3  # seconds kept after a request's louder voice fell back (the fading end of its last word)


class LevelMeter:
    """Short-term levels of a stream: one reading every LEVEL_FRAME samples, the mean power of the
    last LEVEL_SMOOTH frames, in dB."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, np.float32)
        self._powers: list[float] = []

    def reset(self) -> None:
        self._powers = []

    def accept(self, samples: np.ndarray, keep: bool = True) -> list[float]:
        """The readings `samples` completes (none when not `keep`: the samples only move the clock)."""
        buf = np.concatenate([self._pending, samples])
        n = len(buf) // LEVEL_FRAME
        self._pending = buf[n * LEVEL_FRAME:]
        if not keep:
            return []
        frames = buf[: n * LEVEL_FRAME].reshape(n, LEVEL_FRAME)
        levels = []
        for power in np.mean(np.square(frames, dtype=np.float64), axis=1):
            self._powers = [*self._powers[-(LEVEL_SMOOTH - 1):], float(power)]
            levels.append(10.0 * float(np.log10(np.mean(self._powers) + 1e-12)))
        return levels

    @property
    def waiting(self) -> float:
        """Seconds fed but not yet read (less than one reading)."""
        return len(self._pending) / SAMPLE_RATE


def louder_onset(levels_db: np.ndarray, window: int = ONSET_WINDOW, hold: int = ONSET_HOLD,
                 rise_db: float = ONSET_RISE_DB, least_history: int = ONSET_MIN_HISTORY) -> int | None:
    """Where a louder voice began in `levels_db` (short-term levels, oldest first): the first of the
    last `window` levels `rise_db` above the median of those before them, when `hold` of them are;
    None when there is no such rise (or too little history to measure one against)."""
    if len(levels_db) < least_history + window:
        return None
    reference = float(np.median(levels_db[:-window]))
    up = levels_db[-window:] >= reference + rise_db
    if up.sum() < hold or not up[-1]:
        return None
    return len(levels_db) - window + int(np.argmax(up))


@dataclass
class Onset:
    """A louder voice that began inside a segment, waiting to be checked for the name."""

    at: float  # stream seconds where the window to check begins
    reference_db: float  # the segment's running level before it
    quiet_since: float | None = None  # stream seconds since the louder voice fell back


class LouderVoice:
    """Short-term levels of the open segment; reports where a voice clearly louder than the
    segment's running level began (a person speaking over a TV), and when it fell back."""

    def __init__(self, least_history: int = ONSET_MIN_HISTORY) -> None:
        self.now = 0.0  # stream seconds of the samples fed
        self.least_history = least_history  # readings of the segment heard before a louder voice can be told apart
        self._meter = LevelMeter()
        self._levels: list[float] = []  # short-term levels of the segment, at most ONSET_HISTORY + ONSET_WINDOW
        self.onset: Onset | None = None
        self.resting_until = 0.0  # stream seconds before which no new onset is reported (ONSET_EVERY)
        self._armed = True  # the level fell back since the last onset (one rise starts one window)
        self._closed_since: float | None = None  # stream seconds since no segment is open

    def reset(self) -> None:
        """A new segment: its running level is learnt afresh."""
        self._levels, self.onset, self._armed = [], None, True
        self._meter.reset()

    def accept(self, samples: np.ndarray, listening: bool) -> None:
        """Feed samples; `listening` while a segment is open (levels outside one are not kept)."""
        levels = self._meter.accept(samples, keep=listening)
        self.now += len(samples) / SAMPLE_RATE
        if not listening:
            self.onset = None
            self._closed_since = self.now if self._closed_since is None else self._closed_since
            if self.now - self._closed_since > ONSET_KEEP_GAP:
                self.reset()
            return
        self._closed_since = None
        for level in levels:
            self._levels = [*self._levels[-(ONSET_HISTORY + ONSET_WINDOW - 1):], level]
            self._follow()

    def _follow(self) -> None:
        end = self.now - self._meter.waiting  # stream seconds at the end of the last reading
        level = self._levels[-1]
        if self.onset is not None:
            if level >= self.onset.reference_db + ONSET_RISE_DB:
                self.onset.quiet_since = None
            elif self.onset.quiet_since is None:
                self.onset.quiet_since = end
            return
        levels = np.asarray(self._levels)
        reference = float(np.median(levels[:-ONSET_WINDOW])) if len(levels) > ONSET_WINDOW else level
        if not self._armed:
            self._armed = level < reference + ONSET_RISE_DB
            return
        first = louder_onset(levels, least_history=self.least_history) if end >= self.resting_until else None
        if first is not None:
            began = end - (len(levels) - first) * LEVEL_FRAME / SAMPLE_RATE
            self.onset = Onset(began - ONSET_PRE_ROLL, reference)
            self._armed = False

    def fell_back_for(self) -> float:
        """Seconds the louder voice has been back at the running level (0 while it goes on)."""
        if self.onset is None or self.onset.quiet_since is None:
            return 0.0
        return self.now - self.onset.quiet_since


class LouderRequest:
    """One request said over other voices that never pause: its sound from where its louder voice
    began, until that voice has been back at the running level `over_db` for `end_gap` seconds (or
    `longest` have passed). Fed the samples since its start first, then each block as it comes."""

    def __init__(self, so_far: np.ndarray, over_db: float, end_gap: float, longest: float) -> None:
        self.over_db, self.end_gap, self.longest = over_db, end_gap, longest
        self.now = 0.0  # seconds fed since the request began
        self.quiet_since: float | None = None  # seconds into the request when the louder voice fell back
        self._meter = LevelMeter()
        self._parts: list[np.ndarray] = []
        self.accept(so_far)

    def accept(self, samples: np.ndarray) -> bool:
        """Feed samples; whether the request has ended."""
        self._parts.append(samples.astype(np.float32, copy=False))
        start = self.now - self._meter.waiting  # seconds at the start of the first reading these complete
        for i, level in enumerate(self._meter.accept(samples)):
            if level >= self.over_db + ONSET_RISE_DB:
                self.quiet_since = None
            elif self.quiet_since is None:
                self.quiet_since = start + (i + 1) * LEVEL_FRAME / SAMPLE_RATE
        self.now += len(samples) / SAMPLE_RATE
        return self.ended

    @property
    def ended(self) -> bool:
        fell_back = self.quiet_since is not None and self.now - self.quiet_since >= self.end_gap
        return fell_back or self.now >= self.longest

    def samples(self) -> np.ndarray:
        """The request's sound: from its start to REQUEST_TAIL after its louder voice fell back (the
        room's voices after it left out)."""
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        if self.quiet_since is not None:
            audio = audio[: int((self.quiet_since + REQUEST_TAIL) * SAMPLE_RATE)]
        return audio
