"""Listening for spoken commands while Companion speaks or guides (practices, review).

A background thread reads the microphone and feeds a recognizer restricted to the command phrases
(vosk: a grammar; Whisper: short utterances matched to the same phrases). A command counts only
when it is the whole utterance, so Companion's own sentences, heard back through the room, are not
obeyed. The callback runs on the listener thread; keep it short (set a flag, queue an event).
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
        fired_on_partial: str | None = None
        try:
            while not self._stop.is_set():
                chunk = self.mic.read()
                for event in recognizer.accept(chunk):
                    if isinstance(event, Partial):
                        # vosk: a restricted partial that is exactly a command can act before the endpoint
                        command = match_command(event.text, self.commands)
                        if command and command != fired_on_partial:
                            fired_on_partial = command
                            self._fire(command, event.text, chunk.end)
                    elif isinstance(event, Transcript):
                        command = match_command(event.text, self.commands)
                        if command and command != fired_on_partial:
                            self._fire(command, event.text, event.end)
                        fired_on_partial = None
        except DeviceError as e:
            if self.on_error and not self._stop.is_set():
                self.on_error(e)

    def _fire(self, command: str, text: str, speech_end: float) -> None:
        heard = CommandHeard(command, text, time.monotonic(), speech_end)
        self.heard.append(heard)
        self.on_command(heard)

    def __enter__(self) -> "CommandListener":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
