"""Waiting for the wake name: voice-activity detection first, then one quick decode of the start of
each voiced segment, checked for the name. Nothing is kept: the samples of a segment live only until
it is checked or ends, and a segment without the name is dropped.

Other voices that never pause (a TV, a busy room) keep the voice detector in one long segment, so
the start of the person's words is found another way too: inside a segment, a voice clearly louder
than the segment's running level (`LouderVoice`) starts a window of its own, checked the same way.

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
REPLY_MIN_HISTORY = 20  # readings (0.4 s) of the room's voices heard before a reply to "Yes?" can be told apart
ALREADY_OPEN = 0.25  # seconds: a segment opened this soon after listening began was the room's voices already there
REQUEST_TAIL = 0.3  # seconds kept after a request's louder voice fell back (the fading end of its last word)


REQUEST_OPENINGS = ("i", "i'm", "i've", "help", "please", "can", "could", "let's", "breathe", "check",
                    "stop")  # words a request to Companion begins with ("Comparing, I want to check")
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
    """The request after a first word that is the name misspelt, when it is set apart as one
    addresses someone and a request Companion understands follows ("Comparian, help me ground."), or
    when what follows opens as a request does, set apart by a comma ("Comparing, I want to check") or
    understood ("Comparian help me ground"); else None. "Compassion is a practice" is not set apart,
    so it is not taken for the name."""
    found = re.match(r"\s*(?:(?:hey|hi|okay|ok|oh|um|uh|a)[\s,.!-]+)?([A-Za-z'-]+)\s*([,.!?]?)\s*(\S.*)$", heard, re.I)
    if not found or len(name.split()) != 1:
        return None
    if not _alike("".join(_LETTERS.findall(found.group(1).lower())), "".join(_LETTERS.findall(name.lower()))):
        return None
    rest = found.group(3).strip(" ,.;:!?")
    if not rest:
        return None
    opens_a_request = rest.split()[0].lower().strip(",.;:!?") in REQUEST_OPENINGS
    if found.group(2) == "," and opens_a_request:
        return rest
    if not found.group(2) and not opens_a_request:
        return None
    return rest if understand(rest, name).intent not in ("unknown", "cancel") else None


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


@dataclass(frozen=True)
class Called:
    """The name was heard at the start of a segment (or of a louder voice inside one); `rest` is what
    followed it in the checked window."""

    at: float  # stream seconds when the check was made
    heard: str  # the window's words
    rest: str  # the words after the name ("" when the name was said alone, so far)
    pause: bool  # checked at a pause after the voice (the name may stand alone), not mid-speech
    began: float = 0.0  # stream seconds where the checked window began
    over_db: float | None = None  # the running level a louder voice rose over (None: a segment's start)


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

    @property
    def start(self) -> float:
        """Stream seconds where the open segment began (its pre-roll included)."""
        return self._start

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


class LouderRequest:
    """One request said over other voices that never pause: its sound from where its louder voice
    began, until that voice has been back at the running level `over_db` for END_GAP (or LONGEST
    has passed). Fed the samples since its start first, then each block as it comes."""

    def __init__(self, so_far: np.ndarray, over_db: float) -> None:
        self.over_db = over_db
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
        fell_back = self.quiet_since is not None and self.now - self.quiet_since >= END_GAP
        return fell_back or self.now >= LONGEST

    def samples(self) -> np.ndarray:
        """The request's sound: from its start to REQUEST_TAIL after its louder voice fell back (the
        room's voices after it left out)."""
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        if self.quiet_since is not None:
            audio = audio[: int((self.quiet_since + REQUEST_TAIL) * SAMPLE_RATE)]
        return audio


class RequestSound:
    """Where one request's sound ends. In a quiet room with its voiced segment, as the voice
    detector ends it; where other voices keep the segment open, with the louder voice the request
    is said in (`LouderRequest`), or the segment's end if that comes first."""

    def __init__(self, segmenter: Segmenter, louder: LouderRequest | None = None,
                 watch: LouderVoice | None = None) -> None:
        self.segmenter, self.louder = segmenter, louder
        self.watch = watch  # looks for a louder voice rising over a segment open when listening began
        self.heard = 0.0  # seconds fed

    @property
    def begun(self) -> bool:
        """The request has begun: its segment is open, or its louder voice rose."""
        return self.louder is not None or self.segmenter.open

    def accept(self, samples: np.ndarray) -> np.ndarray | None:
        """Feed samples; the request's sound once it has ended."""
        seg = self.segmenter
        samples = samples.astype(np.float32, copy=False)
        was_open = seg.open
        segment = seg.accept(samples)
        self.heard += len(samples) / SAMPLE_RATE
        if self.louder is not None:
            segment_ended = segment is not None and seg.vad.silence_for() >= END_GAP  # not a cut at LONGEST
            return self.louder.samples() if self.louder.accept(samples) or segment_ended else None
        if segment is not None:
            return segment.samples
        if seg.open and not was_open and self.heard > ALREADY_OPEN:
            self.watch = None  # the request opened the segment: the voice detector ends it
        if self.watch is not None:
            self.watch.accept(samples, seg.open)
            onset = self.watch.onset
            if onset is not None:
                so_far = seg.samples()[-max(1, int((self.watch.now - onset.at) * SAMPLE_RATE)):]
                self.louder = LouderRequest(so_far, onset.reference_db)
        return None


class WakeDetector:
    """Calls `decode` on the first WAKE_WINDOW seconds of each voiced segment, once, and on the first
    WAKE_WINDOW seconds after each louder voice that begins inside one; reports `Called` when those
    words begin with the wake name."""

    def __init__(self, decode: Callable[[np.ndarray], str], name: str = "companion",
                 segmenter: Segmenter | None = None) -> None:
        self.decode, self.name = decode, name
        self.segmenter = segmenter or Segmenter()
        self.louder = LouderVoice()
        self.checks = 0  # decodes made (a measure of the cost of waiting)

    def accept(self, samples: np.ndarray) -> Called | None:
        seg = self.segmenter
        samples = samples.astype(np.float32, copy=False)
        was_open = seg.open
        seg.accept(samples)
        if seg.open and not was_open:
            self.louder.onset = None  # a new segment never inherits a window (its running level, when close by, it does)
        self.louder.accept(samples, seg.open)
        if seg.check_due():
            seg.checked = True
            return self._check(seg.samples()[: int((WAKE_WINDOW + PRE_ROLL) * SAMPLE_RATE)],
                               seg.vad.silence_for() >= NAME_PAUSE, seg.vad.now, seg.start)
        return self._check_onset()

    def _check_onset(self) -> Called | None:
        """Check the window a louder voice began, once it fell back or WAKE_WINDOW has passed."""
        louder, onset = self.louder, self.louder.onset
        if onset is None:
            return None
        pause = louder.fell_back_for() >= NAME_PAUSE
        if not pause and louder.now - onset.at < WAKE_WINDOW + ONSET_PRE_ROLL:
            return None
        louder.onset, louder.resting_until = None, louder.now + ONSET_EVERY
        window = self.segmenter.samples()[-int((louder.now - onset.at) * SAMPLE_RATE):]
        return self._check(window, pause, self.segmenter.vad.now, onset.at, onset.reference_db)

    def request_after(self, call: Called) -> RequestSound:
        """The request said with the name in one breath: to its segment's end, or when the name was
        found at a louder voice, to that voice's end."""
        if call.over_db is None:
            return RequestSound(self.segmenter)
        so_far = self.segmenter.samples()[-max(1, int((self.louder.now - call.began) * SAMPLE_RATE)):]
        return RequestSound(self.segmenter, LouderRequest(so_far, call.over_db))

    def request_after_acknowledgement(self) -> RequestSound:
        """The request said after "Yes?" (the segmenter just reset): its segment, or where other
        voices were already there, the louder voice that rises over them."""
        return RequestSound(self.segmenter, watch=LouderVoice(REPLY_MIN_HISTORY))

    def _check(self, window: np.ndarray, pause: bool, at: float, began: float,
               over_db: float | None = None) -> Called | None:
        """Decode `window` and tell whether it begins with the name."""
        self.checks += 1
        heard = self.decode(window)
        rest = called(heard, self.name)
        if rest is None and pause and sounds_like_name(heard, self.name):
            rest = ""
        if rest is None:
            rest = addressed_by_a_near_name(heard, self.name)
        if rest is None:
            return None
        return Called(at, heard, rest, pause, began, over_db)
