"""Shared pieces of a spoken exchange: say a phrase and let the room settle, record one answer.

Used by the reflection, ripples, check-ins and session notes, so they all listen the same way:
an answer ends after a pause (`silence`), or with a trailing command ("next", "skip", "I'm done");
no answer at all within `wait` seconds keeps nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.audio.wavfile import GrowingWav
from companion.commands import split_trailing_command
from companion.events import Partial, Transcript, Word
from companion.speech.base import SpeechEngine, join_words
from companion.ui import Terminal
from companion.vad import EnergyVad
from companion.voice import Voice

TRAILING_KEEP = 0.6  # seconds of audio kept after the last voice of an answer
ECHO_GUARD = 0.25  # seconds of microphone audio dropped after Companion stops speaking


@dataclass
class Answer:
    prompt: str
    words: list[Word]
    audio: Path | None
    started_at: datetime
    duration: float
    command: str | None

    @property
    def text(self) -> str:
        return join_words(self.words)


def speak(voice: Voice, speaker: Speaker, mic: Microphone | None, text: str) -> None:
    """Say `text`, wait until it has left the speaker, then drop what the microphone heard meanwhile."""
    samples, rate = voice.render(text)
    speaker.wait(speaker.play(samples, rate))
    time.sleep(ECHO_GUARD)
    if mic is not None:
        mic.drain()


def record_answer(mic: Microphone, engine: SpeechEngine, ui: Terminal, prompt: str, path: Path,
                  silence: float, wait: float, started: datetime | None = None) -> Answer:
    """Record one answer into `path` until a long pause, a spoken command, or no answer (then no audio)."""
    started = started or datetime.now().astimezone()
    recognizer = engine.recognizer(context=prompt)
    vad = EnergyVad()
    words: list[Word] = []
    command = None
    ui.listening()
    with GrowingWav(path) as wav:
        while command is None:
            chunk = mic.read()
            wav.write(chunk.samples)
            vad.accept(chunk.samples)
            for event in recognizer.accept(chunk):
                command = _take(ui, event, words) or command
            heard = vad.last_voice_time is not None
            if heard and vad.silence_for() >= silence:
                break
            if not heard and vad.now >= wait:
                break
        for event in recognizer.flush():
            command = _take(ui, event, words) or command
        if vad.last_voice_time is not None:  # keep every word, and a little quiet after the last
            last_word_end = max((w.end for w in words), default=0.0)
            wav.truncate(max(vad.last_voice_time, last_word_end) + TRAILING_KEEP)
        duration = wav.duration
    if not words and (vad.last_voice_time is None or command is not None):
        path.unlink(missing_ok=True)  # silence, or only "skip" / "next": nothing to keep
        return Answer(prompt, [], None, started, 0.0, command)
    return Answer(prompt, words, path, started, duration, command)


def _take(ui: Terminal, event, words: list[Word]) -> str | None:
    if isinstance(event, Partial):
        ui.partial(event.text)
        return None
    if isinstance(event, Transcript):
        kept, command = split_trailing_command(list(event.words))
        if kept:
            words.extend(kept)
            ui.final(join_words(kept))
        return command
    return None
