"""Listening for spoken commands while Companion speaks or guides (practices, review).

A background thread reads the microphone and turns what it hears into commands. A command counts
only when it is the whole utterance, so Companion's own sentences, heard back through the room, are
not obeyed. The callback runs on the listener thread; keep it short (set a flag, queue an event).

Whisper's restricted recognizer cuts short utterances by voice-activity detection itself and
decodes each against the command phrases. vosk streams, but its partial results lag the audio by a
few tenths of a second and change as more is decoded (the first partial of "그만" is often "계속"):
acting on the latest partial when the voice pauses obeys the wrong word. So for vosk the listener
cuts the utterances (`UtteranceDecoder`): as soon as a short utterance pauses, exactly that audio
is decoded from scratch by a fresh grammar-restricted recognizer, whose final result is complete
and carries word confidences. Restricted results always name some phrase (and a model without
`[unk]` in its vocabulary cannot answer anything else), so those below MIN_CONFIDENCE are ignored.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from companion.audio.capture import Microphone
from companion.errors import DeviceError
from companion.events import SAMPLE_RATE, AudioChunk, Transcript, Word
from companion.speech.base import Recognizer, SpeechEngine
from companion.speech.vad import EnergyVad
from companion.textnorm import normalize_words

EARLY_QUIET = 0.1  # seconds of quiet after a short utterance before it is decoded
PRE_ROLL = 0.25  # seconds of audio decoded before the detected start of the voice
COMMAND_LONGEST = 1.6  # seconds: a longer utterance is not a command
UTTERANCE_END = 0.4  # seconds of quiet that end an utterance
MIN_CONFIDENCE = 0.5
UTTERANCE_ENGINES = ("vosk",)  # engines whose commands are decoded per utterance by the listener


@dataclass(frozen=True)
class CommandHeard:
    command: str  # the command's name, e.g. "pause"
    text: str  # what was recognised
    heard_at: float  # time.monotonic() when Companion knew
    speech_end: float  # seconds into the microphone stream where the utterance ended


def match_command(text: str, commands: dict[str, list[str]]) -> str | None:
    """The command whose phrase is the whole of `text` (ignoring case and punctuation, and a
    trailing "please"), else None."""
    words = normalize_words(text)
    if words[-1:] == ["please"]:
        words = words[:-1]
    for command, phrases in commands.items():
        if any(words == normalize_words(p) for p in phrases):
            return command
    return None


def grammar_for(commands: dict[str, list[str]]) -> list[str]:
    return sorted({p.lower() for phrases in commands.values() for p in phrases}) + ["[unk]"]


def vocabulary_notes(engine: SpeechEngine, commands: dict[str, list[str]]) -> list[str]:
    """What a grammar-restricted engine cannot do with these commands: phrases with a word its
    model does not know (they can never be heard), and no "[unk]" (other speech cannot be told
    apart from commands). Empty for engines without a fixed vocabulary."""
    knows = getattr(engine, "knows", None)
    if knows is None:
        return []
    notes = [f"the speech model does not know '{p}', so '{command}' cannot be said that way"
             for command, phrases in commands.items() for p in phrases if not all(knows(w) for w in p.lower().split())]
    if not knows("[unk]"):
        notes.append("the speech model has no [unk], so other words may be taken for a command")
    return notes


def confident(transcript: Transcript, least: float = MIN_CONFIDENCE) -> bool:
    return min((w.conf for w in transcript.words), default=1.0) >= least


class UtteranceDecoder:
    """Short utterances cut from a stream by voice-activity detection. Each is fed, from PRE_ROLL
    before the voice began, to a fresh recognizer restricted to `grammar`, whose final result is
    taken as soon as the voice pauses for EARLY_QUIET (so the decoding is already done, and the
    result covers exactly the utterance). If the voice goes on, the longer utterance is decoded
    again at its next pause, until `decided()` or the utterance ends. Times are of the stream."""

    def __init__(self, engine: SpeechEngine, grammar: list[str]) -> None:
        self.engine, self.grammar = engine, grammar
        self.vad = EnergyVad()
        self._origin: float | None = None  # stream time of the first sample the VAD heard
        self._recent = np.zeros(0, np.float32)
        self._recent_start = 0.0  # stream time of self._recent[0]
        self._recognizer: Recognizer | None = None
        self._fed_from = 0.0  # stream time of the first sample the recognizer was given
        self._found: list[Transcript] = []  # the recognizer's own results within this utterance
        self._tried: float | None = None  # the voice end last decoded
        self._decided = False
        self._too_long = False
        self.warm_up()

    def warm_up(self) -> None:
        """Decode a little silence, so the first command is not slowed by first-use costs."""
        recognizer = self.engine.recognizer(grammar=self.grammar)
        recognizer.accept(AudioChunk(np.zeros(SAMPLE_RATE // 2, np.float32)))
        recognizer.flush()

    def accept(self, chunk: AudioChunk) -> list[Transcript]:
        if self._origin is None:
            self._origin = self._recent_start = chunk.start
        self.vad.accept(chunk.samples)
        self._remember(chunk.samples)
        vad = self.vad
        if not vad.in_speech or vad.speech_started_at is None or vad.last_voice_time is None:
            return []
        out: list[Transcript] = []
        if vad.last_voice_time - vad.speech_started_at > COMMAND_LONGEST:
            self._too_long, self._recognizer = True, None
        if not (self._too_long or self._decided):
            if self._recognizer is not None:
                self._feed(chunk.samples)
            elif self._tried != vad.last_voice_time:  # a new utterance, or the voice went on after a try
                self._begin(self._origin + vad.speech_started_at - PRE_ROLL)
            if vad.silence_for() >= EARLY_QUIET and self._tried != vad.last_voice_time:
                self._tried = vad.last_voice_time
                out = self._finish()
        if vad.silence_for() >= UTTERANCE_END:
            vad.end_segment()
            self._recognizer, self._tried, self._decided, self._too_long = None, None, False, False
        return out

    def decided(self) -> None:
        """The current utterance has been acted on: decode no more of it."""
        self._decided, self._recognizer = True, None

    def end_of_voice(self) -> float:
        """Stream time where the voice was last heard."""
        return (self._origin or 0.0) + (self.vad.last_voice_time or 0.0)

    def _remember(self, samples: np.ndarray) -> None:
        keep = int((COMMAND_LONGEST + PRE_ROLL + 1.0) * SAMPLE_RATE)
        self._recent = np.concatenate([self._recent, samples.astype(np.float32, copy=False)])
        if len(self._recent) > keep:
            self._recent_start += (len(self._recent) - keep) / SAMPLE_RATE
            self._recent = self._recent[-keep:]

    def _begin(self, start: float) -> None:
        first = max(0, int(round((start - self._recent_start) * SAMPLE_RATE)))
        self._recognizer = self.engine.recognizer(grammar=self.grammar)
        self._fed_from = self._recent_start + first / SAMPLE_RATE
        self._found = []
        self._feed(self._recent[first:])

    def _feed(self, samples: np.ndarray) -> None:
        assert self._recognizer is not None
        events = self._recognizer.accept(AudioChunk(samples))
        self._found += [e for e in events if isinstance(e, Transcript)]  # the engine's own endpoint

    def _finish(self) -> list[Transcript]:
        if self._recognizer is None:
            return []
        found = self._found + [e for e in self._recognizer.flush() if isinstance(e, Transcript)]
        self._recognizer, self._found = None, []
        if not found:
            return []
        at = self._fed_from
        words = [Word(w.word, w.start + at, w.end + at, w.conf) for t in found for w in t.words]
        text = " ".join(t.text for t in found)
        return [Transcript(text, words, words[0].start if words else at, words[-1].end if words else at)]


class CommandListener:
    """Runs until stopped; calls `on_command` for each command heard, `on_error` if the mic fails,
    and `on_decoded` with every utterance decoded and the command it was taken for, if any (a log
    of what was heard, commands or not)."""

    def __init__(self, mic: Microphone, engine: SpeechEngine, commands: dict[str, list[str]],
                 on_command: Callable[[CommandHeard], None], on_error: Callable[[Exception], None] | None = None,
                 on_decoded: Callable[[Transcript, str | None], None] | None = None) -> None:
        self.mic, self.engine, self.commands = mic, engine, commands
        self.on_command, self.on_error, self.on_decoded = on_command, on_error, on_decoded
        self.heard: list[CommandHeard] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="command-listener", daemon=True)

    def start(self) -> "CommandListener":
        self.mic.drain()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            if self.engine.name in UTTERANCE_ENGINES:
                self._run_utterances()
            else:
                self._run_stream()
        except DeviceError as e:
            if self.on_error and not self._stop.is_set():
                self.on_error(e)

    def _run_stream(self) -> None:
        """The engine's own restricted recognizer cuts and decodes the utterances (Whisper)."""
        recognizer = self.engine.recognizer(grammar=grammar_for(self.commands))
        while not self._stop.is_set():
            for event in recognizer.accept(self.mic.read()):
                if isinstance(event, Transcript) and (command := self._command(event)):
                    self._fire(command, event.text, event.end)

    def _run_utterances(self) -> None:
        """Each short utterance decoded from scratch as soon as the voice pauses (vosk)."""
        decoder = UtteranceDecoder(self.engine, grammar_for(self.commands))
        while not self._stop.is_set():
            for event in decoder.accept(self.mic.read()):
                if command := self._command(event):
                    decoder.decided()
                    self._fire(command, event.text, decoder.end_of_voice())

    def _command(self, transcript: Transcript) -> str | None:
        """The command this utterance is, if it is one and confidently so."""
        command = match_command(transcript.text, self.commands)
        command = command if command and confident(transcript) else None
        if self.on_decoded:
            self.on_decoded(transcript, command)
        return command

    def _fire(self, command: str, text: str, speech_end: float) -> None:
        heard = CommandHeard(command, text, time.monotonic(), speech_end)
        self.heard.append(heard)
        self.on_command(heard)

    def __enter__(self) -> "CommandListener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
