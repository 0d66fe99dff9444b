"""Shared pieces of a spoken exchange: say a phrase and let the room settle, record one answer.

Used by the reflection, ripples, check-ins and session notes, so they all listen the same way:
an answer ends after a pause (`silence`), or with a trailing command ("next", "skip", "I'm done");
no answer at all within `wait` seconds keeps nothing.
"""

from __future__ import annotations

import collections
import errno
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from companion.audio.capture import Microphone
from companion.audio.playback import Clip, Speaker
from companion.audio.wavfile import GrowingWav
from companion.errors import CompanionError, DeviceError, Stopped, StorageError
from companion.events import SAMPLE_RATE, AudioChunk, Partial, Transcript, Word
from companion.speech.base import SpeechEngine, join_words
from companion.speech.silero import DetectorConfig, SileroStream, VoiceDetector
from companion.speech.silero import FRAME as SILERO_FRAME
from companion.speech.vad import EnergyVad
from companion.store.pending import (
    Pending,
    clear_pending,
    mark_pending,
    repair_header_to_size,
)
from companion.terminal import Terminal
from companion.understand.control import split_trailing_command
from companion.voice.base import Voice

TRAILING_KEEP = 0.6  # seconds of audio kept after the last voice of an answer
PRE_ROLL = 0.3  # seconds kept from before the person's voice began, when it began over Companion's
ECHO_GUARD = 0.25  # seconds of microphone audio dropped after Companion stops speaking
ANSWER_VOICE = DetectorConfig(going_margin_db=2.0)
"""Where an answer ends: once the person's voice is clearly above the room (6 dB, as it begins), it
goes on, unbroken, while it stays 2 dB above it, for up to half a second after the last clear frame.
Over other voices at 5 dB a voice's soft ends are barely above them, so a pause of 1.6 s could read
as 2.5 s of quiet and end the answer while the person was still speaking. Unbroken and bounded, so
the other voices cannot carry an answer on by themselves."""
WORD_TAIL = 0.6
"""How far past the detector's last voice the recognizer's last word may carry an answer on. Over
other voices a word's soft end can be no louder than they are, so the detector loses it while the
recognizer still writes the word; bounded, so words read into the other voices cannot hold it open."""


def quiet_after_voice(now: float, last_voice: float, words: list[Word]) -> float:
    """Seconds of quiet at `now` since the person's voice: since the detector last heard it
    (`last_voice`) or, if later, since the end of the last word written (at most `WORD_TAIL` later)."""
    last_word = max((w.end for w in words), default=0.0)
    return now - max(last_voice, min(last_word, last_voice + WORD_TAIL))


@dataclass
class Answer:
    prompt: str
    words: list[Word]
    audio: Path | None
    started_at: datetime
    duration: float
    command: str | None
    interrupted: CompanionError | None = None  # the microphone went away or the disk filled up mid-answer
    room_db: float = -90.0  # the level of the room while the answer was listened for

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
    finish_speaking(speaker, mic, speaker.play(samples, rate))


def finish_speaking(speaker: Speaker, mic: Microphone | None, clip: Clip) -> None:
    """Wait until `clip` has left the speaker, let the room settle, then drop what the microphone
    heard meanwhile (Companion's own voice)."""
    speaker.wait(clip)
    time.sleep(ECHO_GUARD)
    if mic is not None:
        mic.drain()


class Interruption:
    """While Companion speaks, tells the person's voice from Companion's own, heard back through the
    room, by level: the echo's level is learnt while Companion speaks with nobody talking (the
    opening), and the person's voice must be clearly above it and above the room. A room that
    echoes as loud as a voice is never taken for the person: then Companion simply finishes."""

    MIN_VOICE_DB = -45.0  # quieter than this is never a voice close enough to talk to Companion
    ROOM_MARGIN_DB = 15.0  # above the quiet of the room
    ECHO_MARGIN_DB = 10.0  # above the loud part of Companion's own voice at the microphone
    VOICE_SECONDS = 0.3  # of voice, without a break, before Companion stops
    VOICE_PROBABILITY = 0.5  # Silero's: a sound that loud must also be speech

    def __init__(self) -> None:
        self.echo_db: float | None = None  # None: not learnt yet (nobody's voice counts until it is)

    def learn(self, levels: list[float]) -> None:
        """The echo level from the frame levels heard while Companion spoke and nobody talked."""
        if levels:
            self.echo_db = float(np.percentile(levels, 95))

    def threshold(self, room_db: float) -> float:
        echo = -120.0 if self.echo_db is None else self.echo_db
        return max(self.MIN_VOICE_DB, room_db + self.ROOM_MARGIN_DB, echo + self.ECHO_MARGIN_DB)


@dataclass
class Heard:
    """The person began to speak while Companion spoke: the audio from just before their voice,
    and how far into its phrase Companion was (0 to 1) when it stopped."""

    lead: list[AudioChunk]
    at: float


def speak_listening(voice: Voice, speaker: Speaker, mic: Microphone, text: str, gate: Interruption,
                    room_db: float = -90.0, learn: bool = False) -> Heard | None:
    """Say `text` while listening: if the person starts to speak, stop at once and return what the
    microphone heard from just before their voice (so none of it is lost). `learn`: nobody is
    expected to talk (the opening): the level heard teaches `gate` how loud Companion's own voice is."""
    try:
        samples, rate = voice.render(text)
    except StorageError:
        return None
    mic.drain()
    clip = speaker.play(samples, rate)
    recent: collections.deque[AudioChunk] = collections.deque(maxlen=40)  # 2 s of 50 ms chunks
    levels: list[float] = []
    threshold = gate.threshold(room_db)
    frame_seconds = SILERO_FRAME / SAMPLE_RATE
    window: collections.deque[bool] = collections.deque(maxlen=round(gate.VOICE_SECONDS * 1.5 / frame_seconds))
    pending = np.zeros(0, np.float32)
    can_stop = not learn and gate.echo_db is not None
    speech = SileroStream()  # loud is not enough: it must be a voice (not a door, not the fan)
    while not clip.done.is_set():
        try:
            chunk = mic.read(timeout=0.5)
        except DeviceError:
            break  # the answer that follows says so
        recent.append(chunk)
        pending = np.concatenate([pending, chunk.samples])
        for prob in speech.accept(chunk.samples):
            level = EnergyVad.level_db(pending[:SILERO_FRAME])
            pending = pending[SILERO_FRAME:]
            levels.append(level)
            window.append(level > threshold and prob >= gate.VOICE_PROBABILITY)
        if can_stop and sum(window) * frame_seconds >= gate.VOICE_SECONDS:  # voice, with only short breaks
            speaker.silence()
            first = list(window).index(True)
            began = chunk.end - len(pending) / SAMPLE_RATE - (len(window) - first) * frame_seconds - PRE_ROLL
            lead = [c for c in recent if c.end > began]
            return Heard(lead, clip.position / max(1, len(clip.samples)))
    finish_speaking(speaker, mic, clip)
    if learn:
        gate.learn(levels)
    return None


def record_answer(mic: Microphone, engine: SpeechEngine, ui: Terminal, prompt: str, path: Path,
                  silence: float, wait: float, started: datetime | None = None,
                  pending: Pending | None = None, lead: list[AudioChunk] | None = None,
                  listening: str | None = None) -> Answer:
    """Record one answer into `path` until a long pause, a spoken command, or no answer (then no audio).

    With `pending`, a marker beside the audio lets the next start store the answer if Companion is
    killed before the caller has stored it (the caller calls `clear_pending` once it is stored).
    If the microphone goes away or the disk fills up, what was said so far is kept and the answer
    comes back with `interrupted` set, for the caller to store and then report. `lead`: audio heard
    before (the person began while Companion spoke), taken first. `listening`: the line shown
    instead of the usual "(listening - take your time)".
    """
    lead = list(lead or [])
    started = started or datetime.now().astimezone()
    if pending is not None:
        _guard_disk(lambda: mark_pending(path, pending), path)
    recognizer = engine.recognizer(context=prompt, final_within=silence)  # the answer ends after `silence`
    vad = VoiceDetector(ANSWER_VOICE)
    words: list[Word] = []
    command = None
    interrupted: CompanionError | None = None
    if listening is None:
        ui.listening()
    else:
        ui.say(listening)
    wav = _guard_disk(lambda: GrowingWav(path), path)
    try:
        try:
            while command is None:
                try:
                    chunk = lead.pop(0) if lead else mic.read()
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
                last_voice = vad.last_voice_time
                if last_voice is not None and quiet_after_voice(vad.now, last_voice, words) >= silence:
                    break
                if last_voice is None and vad.now >= wait:
                    break
        except KeyboardInterrupt:  # Ctrl-C: what was said so far is decoded and kept (a second one leaves
            interrupted = Stopped("Stopped. What you said is saved.")  # it on disk, for the next start)
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
    room_db = vad.noise_db
    if not words and (vad.last_voice_time is None or command is not None):
        path.unlink(missing_ok=True)  # silence, or only "skip" / "next": nothing to keep
        clear_pending(path)
        if isinstance(interrupted, Stopped):
            interrupted = Stopped("Stopped. Everything you said before is kept.")
        return Answer(prompt, [], None, started, 0.0, command, interrupted, room_db)
    return Answer(prompt, words, path, started, duration, command, interrupted, room_db)


def kept_so_far(error: CompanionError) -> CompanionError:
    """The same error, telling the person that the answer so far is saved."""
    if isinstance(error, Stopped):
        return error
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
