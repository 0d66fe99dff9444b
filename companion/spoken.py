"""Shared pieces of a spoken exchange: say a phrase and let the room settle, record one answer.

Used by the reflection, ripples, check-ins and session notes, so they all listen the same way:
an answer ends after a pause (`silence`), or with a trailing command ("next", "skip", "I'm done");
no answer at all within `wait` seconds keeps nothing.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.audio.wavfile import GrowingWav
from companion.commands import split_trailing_command
from companion.errors import CompanionError, DeviceError, StorageError
from companion.events import Partial, Transcript, Word
from companion.recovery import Pending, clear_pending, mark_pending, repair_header_to_size
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
    interrupted: CompanionError | None = None  # the microphone went away or the disk filled up mid-answer

    @property
    def text(self) -> str:
        return join_words(self.words)


def speak(voice: Voice, speaker: Speaker, mic: Microphone | None, text: str) -> None:
    """Say `text`, wait until it has left the speaker, then drop what the microphone heard meanwhile.
    With the disk full the phrase cannot be rendered; it is shown on screen only."""
    try:
        samples, rate = voice.render(text)
    except StorageError:
        return
    speaker.wait(speaker.play(samples, rate))
    time.sleep(ECHO_GUARD)
    if mic is not None:
        mic.drain()


def record_answer(mic: Microphone, engine: SpeechEngine, ui: Terminal, prompt: str, path: Path,
                  silence: float, wait: float, started: datetime | None = None,
                  pending: Pending | None = None) -> Answer:
    """Record one answer into `path` until a long pause, a spoken command, or no answer (then no audio).

    With `pending`, a marker beside the audio lets the next start store the answer if Companion is
    killed before the caller has stored it (the caller calls `clear_pending` once it is stored).
    If the microphone goes away or the disk fills up, what was said so far is kept and the answer
    comes back with `interrupted` set, for the caller to store and then report.
    """
    started = started or datetime.now().astimezone()
    if pending is not None:
        _guard_disk(lambda: mark_pending(path, pending), path)
    recognizer = engine.recognizer(context=prompt)
    vad = EnergyVad()
    words: list[Word] = []
    command = None
    interrupted: CompanionError | None = None
    ui.listening()
    wav = _guard_disk(lambda: GrowingWav(path), path)
    try:
        while command is None:
            try:
                chunk = mic.read()
            except DeviceError as e:
                interrupted = e
                break
            try:
                wav.write(chunk.samples)
            except OSError as e:
                interrupted = _disk_error(e, path)
                break
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
        if vad.last_voice_time is not None and interrupted is None:  # keep every word, a little quiet after
            last_word_end = max((w.end for w in words), default=0.0)
            wav.truncate(max(vad.last_voice_time, last_word_end) + TRAILING_KEEP)
    finally:
        try:
            wav.close()
        except OSError as e:  # the disk filled up: make the header match what reached the disk
            interrupted = interrupted or _disk_error(e, path)
            wav.frames = repair_header_to_size(path)
    duration = wav.duration
    if not words and (vad.last_voice_time is None or command is not None):
        path.unlink(missing_ok=True)  # silence, or only "skip" / "next": nothing to keep
        clear_pending(path)
        return Answer(prompt, [], None, started, 0.0, command, interrupted)
    return Answer(prompt, words, path, started, duration, command, interrupted)


def kept_so_far(error: CompanionError) -> CompanionError:
    """The same error, telling the person that the answer so far is saved."""
    return type(error)(f"{error.message}. What you said until then is saved", error.hint.split(";")[0])


def _disk_error(error: OSError, path: Path) -> StorageError:
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return StorageError(
            f"the disk is full, so recording stopped ({error.strerror})",
            f"free some space; what you said until then is kept in {path.parent} and is saved the next time "
            "Companion starts",
        )
    return StorageError(f"cannot write the recording {path}: {error.strerror or error}",
                        "check free space and permissions; nothing stored earlier is lost")


def _guard_disk(make, path: Path):
    try:
        return make()
    except OSError as e:
        raise _disk_error(e, path) from None


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
