"""Waiting for the wake name: voice-activity detection first, then one quick decode of the start of
each voiced segment, checked for the name. Where the name may be there but was not spelt (a first
word close to it, "Hey" as it is heard over other voices, or a request with nothing before it), a
second decode is told the name may be there, and if that does not spell it either, the recognizer is
asked how likely the window begins with the name. Nothing is kept: the samples of a segment live
only until it is checked or ends, and a segment without the name is dropped.

Other voices that never pause (a TV, a busy room) keep the voice detector in one long segment, so
the start of the person's words is found another way too: inside a segment, a voice clearly louder
than the segment's running level (`LouderVoice`) starts a window of its own, checked the same way;
a request said in such a voice ends when that voice falls back (`RequestSound`).

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
from companion.listen.louder import ONSET_EVERY, ONSET_PRE_ROLL, LouderRequest, LouderVoice
from companion.speech.silero import VoiceDetector
from companion.understand.intents import called, understand

NAME_PAUSE = 0.35  # seconds of quiet after a short voiced run: the name may have been said alone
WAKE_WINDOW = 2.0  # seconds from the start of a segment that are checked for the name
PRE_ROLL = 0.3  # seconds kept before the detected start of the voice
END_GAP = 0.8  # seconds of quiet that end a segment (a request said in one breath with the name)
LONGEST = 15.0  # seconds: a request is a sentence or two; a longer segment ends here
NAME_SCORE = -5.0  # the least mean log-probability of the name at a window's start (Whisper's, told the words) to wake
# (windows with the name that both decodes missed: -4.5 to -1.7; windows without it that get this far: -6.1 and lower)
ALONE_LIKENESS = 0.7  # a word said alone is the name when its letters are this alike (0 to 1)
NEAR_LIKENESS = 0.55  # a first word this alike to the name is decoded again, told the name may be there
_LETTERS = re.compile(r"[a-z]+")

REPLY_MIN_HISTORY = 20  # readings (0.4 s) of the room's voices heard before a reply to "Yes?" can be told apart
ALREADY_OPEN = 0.25  # seconds: a segment opened this soon after listening began was the room's voices already there


REQUEST_OPENINGS = ("i", "i'm", "i've", "help", "please", "can", "could", "let's", "breathe", "check",
                    "stop")  # words a request to Companion begins with ("Comparing, I want to check")
GREETINGS = ("hey", "hi", "okay", "ok", "k", "oh", "um", "uh", "a")  # before the name ("Hey" is often heard as "A")
HEY_HEARD = re.compile(r"(?:th|[a-z])?(?:ey|ay|ei|ae|ake)(?:'re)?")
""""Hey" as it is heard over other voices: "Hei", "Pay", "They" (a sound of theirs before it), or
"Take" (the name's first sound joined to it: "Take companion")."""
_WORDS = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _greeting(word: str) -> bool:
    """Whether `word` (lower case) is a greeting or hesitation before the name, or "Hey" as heard over
    other voices."""
    return word in GREETINGS or HEY_HEARD.fullmatch(word) is not None


def sounds_like_name(heard: str, name: str) -> bool:
    """Whether `heard` (one short utterance said alone) is the wake name as a small model may spell
    it, with a greeting or a hesitation before it: Whisper tiny writes a lone "Companion" as
    "Comparian" or "Compagnion", while inside a sentence it spells it right. Only a word said alone
    is judged this way; a sentence must begin with the name itself (`called`)."""
    words = _WORDS.findall(heard.lower())
    if len(words) == 2 and _greeting(words[0]):
        words = words[1:]
    if len(words) != 1 or len(name.split()) != 1:
        return False
    return _alike(_letters(words[0]), _letters(name))


def _letters(text: str) -> str:
    return "".join(_LETTERS.findall(text.lower()))


def _alike(word: str, wanted: str, likeness: float = ALONE_LIKENESS, length_slack: int | None = 2) -> bool:
    """Whether `word` is `wanted` misspelt: the same first letter, letters this alike (0 to 1), and
    (unless `length_slack` is None) a length at most that far from it."""
    if not word or not wanted or word[0] != wanted[0]:
        return False
    if length_slack is not None and abs(len(word) - len(wanted)) > length_slack:
        return False
    return difflib.SequenceMatcher(None, word, wanted).ratio() >= likeness


def _a_request(rest: str, name: str) -> bool:
    """Whether `rest` asks Companion for something it understands ("never mind" asks for nothing)."""
    return understand(rest, name).intent not in ("unknown", "cancel")


def addressed_by_a_near_name(heard: str, name: str) -> str | None:
    """The request after a first word that is the name misspelt, when it is set apart as one
    addresses someone and a request Companion understands follows ("Comparian, help me ground."), or
    when what follows opens as a request does, set apart by a comma ("Comparing, I want to check") or
    understood ("Comparian help me ground"); else None. "Compassion is a practice" is not set apart,
    so it is not taken for the name."""
    found = re.match(r"\s*(?:(?:hey|hi|okay|ok|oh|um|uh|a)[\s,.!-]+)?([A-Za-z'-]+)\s*([,.!?]?)\s*(\S.*)$", heard, re.I)
    if not found or len(name.split()) != 1:
        return None
    if not _alike(_letters(found.group(1)), _letters(name)):
        return None
    rest = found.group(3).strip(" ,.;:!?")
    if not rest:
        return None
    opens_a_request = rest.split()[0].lower().strip(",.;:!?") in REQUEST_OPENINGS
    if found.group(2) == "," and opens_a_request:
        return rest
    if not found.group(2) and not opens_a_request:
        return None
    return rest if _a_request(rest, name) else None


def begins_near_the_name(heard: str, name: str) -> bool:
    """Whether the first word (after a greeting), or the name's length of letters from it, is close
    to the name: worth a second decode told that the name may be there ("Comparing and help me
    ground", "Campania, help me", and over other voices "They can paniums" for "Hey Companion")."""
    words = _WORDS.findall(heard.lower())
    if len(words) >= 2 and _greeting(words[0]):
        words = words[1:]
    if not words or len(name.split()) != 1:
        return False
    wanted = _letters(name)
    letters = [_letters(w) for w in words]
    return (_alike(letters[0], wanted, NEAR_LIKENESS, length_slack=None)
            or _alike("".join(letters)[: len(wanted)], wanted, NEAR_LIKENESS, length_slack=None))


def opens_like_hey(heard: str) -> bool:
    """Whether a short utterance said alone begins with "Hey" as it is heard over other voices
    ("Take a party." for "Hey Companion.") or is a greeting alone: worth a second decode told the
    name may be there."""
    words = _WORDS.findall(heard.lower())
    if 1 <= len(words) <= 2 and all(_greeting(w) for w in words):
        return True  # a greeting alone: the name after it lost ("A." for "Hey Companion.")
    return 1 <= len(words) <= 5 and HEY_HEARD.fullmatch(words[0]) is not None


def confirmed(heard: str, name: str, pause: bool) -> str | None:
    """The request after the name in a second decode (one told the name may be there): only the name
    spelt right counts, said alone before a pause or followed by a request Companion understands."""
    rest = called(heard, name)
    if pause and (rest is None and sounds_like_name(heard, name) or rest and _only_the_name(rest, name)):
        return ""  # said alone, and heard close to the name twice (or the name, then its echo: "Companion. Compandion,")
    if rest is None or (rest == "" and not pause):
        return None
    if rest and not _a_request(rest, name):
        return None
    return rest


def _only_the_name(text: str, name: str) -> bool:
    """Whether `text` is nothing but the name again, misspelt: a short decode told the name may be
    there can write it twice ("Companion. Compandion,")."""
    words = _WORDS.findall(text.lower())
    return bool(words) and all(_alike(_letters(w), _letters(name), NEAR_LIKENESS, length_slack=None) for w in words)


def _request_after_a_misheard_name(heard: str, name: str) -> str | None:
    """The request after the name as a free decode misspelt it in one to three words (after a
    greeting), when a request Companion understands follows ("Compan years, help me ground")."""
    words = heard.split()
    start = 1 if len(words) > 1 and _greeting(_letters(words[0])) else 0
    set_apart = next((n for n in (1, 2, 3) if words[start + n - 1:start + n]
                      and words[start + n - 1].endswith((",", ".", "!", "?"))), None)  # "Compan years, help me"
    for length in (set_apart,) if set_apart else (1, 2, 3):
        rest = " ".join(words[start + length:]).strip(" ,.;:!?")
        if rest and _a_request(rest, name):
            return rest
    return None


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

    def last(self, seconds: float) -> np.ndarray:
        """The open segment's last `seconds` (at least one sample)."""
        return self.samples()[-max(1, int(seconds * SAMPLE_RATE)):]

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
                self.louder = LouderRequest(seg.last(self.watch.now - onset.at), onset.reference_db, END_GAP, LONGEST)
        return None


class WakeDetector:
    """Calls `decode` on the first WAKE_WINDOW seconds of each voiced segment, once, and on the first
    WAKE_WINDOW seconds after each louder voice that begins inside one (and `decode_near` on such a
    window when its first word is close to the name); reports `Called` when those words begin with
    the wake name."""

    def __init__(self, decode: Callable[[np.ndarray], str], name: str = "companion",
                 segmenter: Segmenter | None = None, decode_near: Callable[[np.ndarray], str] | None = None,
                 name_score: Callable[[np.ndarray], float] | None = None) -> None:
        """`decode_near`: a second decode of a window whose first word is close to the name, told that
        the name may be there (it is believed only as `confirmed` allows). `name_score`: how likely the
        recognizer finds it that such a window begins with the name (a mean log-probability), asked
        when neither decode spelt it; NAME_SCORE or more wakes."""
        self.decode, self.name, self.decode_near, self.name_score = decode, name, decode_near, name_score
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
        return self._check(self.segmenter.last(louder.now - onset.at), pause, self.segmenter.vad.now,
                           onset.at, onset.reference_db)

    def request_after(self, call: Called) -> RequestSound:
        """The request said with the name in one breath: to its segment's end, or when the name was
        found at a louder voice, to that voice's end."""
        if call.over_db is None:
            return RequestSound(self.segmenter)
        return RequestSound(self.segmenter, LouderRequest(self.segmenter.last(self.louder.now - call.began),
                                                          call.over_db, END_GAP, LONGEST))

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
        near = rest is None and (begins_near_the_name(heard, self.name) or (pause and opens_like_hey(heard))
                                 or _a_request(heard, self.name))  # the name may be there, or swallowed before a request
        if near and self.decode_near is not None:
            self.checks += 1
            heard = self.decode_near(window)
            rest = confirmed(heard, self.name, pause)
        if near and rest is None and self.name_score is not None:
            self.checks += 1
            if self.name_score(window) >= NAME_SCORE:
                rest = "" if pause else _request_after_a_misheard_name(heard, self.name)
        if rest is None:
            return None
        return Called(at, heard, rest, pause, began, over_db)
