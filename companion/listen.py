"""Listening for spoken commands while Companion speaks or guides (practices, review).

A background thread reads the microphone and feeds a recognizer restricted to the command phrases
(vosk: a grammar; Whisper: short utterances matched to the same phrases). A command counts only
when it is the whole utterance, so Companion's own sentences, heard back through the room, are not
obeyed. The callback runs on the listener thread; keep it short (set a flag, queue an event).

Acting quickly: a vosk partial that is exactly a command acts after only PARTIAL_QUIET of quiet,
if the utterance is short enough to be a command (a partial in the middle of a sentence is often a
command word, because the grammar can only say command words). Final results from a restricted
grammar always name some phrase, so those below MIN_CONFIDENCE are not obeyed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from companion.audio.capture import Microphone
from companion.errors import DeviceError
from companion.events import Partial, Transcript
from companion.speech.base import SpeechEngine
from companion.textnorm import normalize_words
from companion.vad import EnergyVad

PARTIAL_QUIET = 0.1  # seconds of quiet after a command-only partial before it acts
COMMAND_LONGEST = 1.6  # seconds: a longer utterance is not a command
UTTERANCE_END = 0.4  # seconds of quiet that end an utterance (for the two checks above)
MIN_CONFIDENCE = 0.5


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


class CommandListener:
    """Runs until stopped; calls `on_command` for each command heard, `on_error` if the mic fails."""

    def __init__(self, mic: Microphone, engine: SpeechEngine, commands: dict[str, list[str]],
                 on_command: Callable[[CommandHeard], None], on_error: Callable[[Exception], None] | None = None) -> None:
        self.mic, self.engine, self.commands = mic, engine, commands
        self.on_command, self.on_error = on_command, on_error
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
        recognizer = self.engine.recognizer(grammar=grammar_for(self.commands))
        vad = EnergyVad()
        candidate: tuple[str, str] | None = None  # (command, text) of the latest partial
        fired: str | None = None  # the command already acted on in this utterance
        try:
            while not self._stop.is_set():
                chunk = self.mic.read()
                vad.accept(chunk.samples)
                for event in recognizer.accept(chunk):
                    if isinstance(event, Partial):
                        command = match_command(event.text, self.commands)
                        candidate = (command, event.text) if command else None
                    elif isinstance(event, Transcript):
                        command = match_command(event.text, self.commands)
                        confident = min((w.conf for w in event.words), default=1.0) >= MIN_CONFIDENCE
                        if command and fired is None and confident:
                            self._fire(command, event.text, event.end)
                        candidate, fired = None, None
                if candidate and fired is None and self._short_and_quiet(vad):
                    fired = candidate[0]
                    self._fire(candidate[0], candidate[1], chunk.end - vad.silence_for())
                    candidate = None
                if vad.in_speech and vad.silence_for() >= UTTERANCE_END:
                    vad.end_segment()
        except DeviceError as e:
            if self.on_error and not self._stop.is_set():
                self.on_error(e)

    @staticmethod
    def _short_and_quiet(vad: EnergyVad) -> bool:
        """The voice has paused briefly after an utterance short enough to be a command."""
        if not vad.in_speech or vad.speech_started_at is None or vad.last_voice_time is None:
            return False
        return vad.silence_for() >= PARTIAL_QUIET and vad.last_voice_time - vad.speech_started_at <= COMMAND_LONGEST

    def _fire(self, command: str, text: str, speech_end: float) -> None:
        heard = CommandHeard(command, text, time.monotonic(), speech_end)
        self.heard.append(heard)
        self.on_command(heard)

    def __enter__(self) -> "CommandListener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
