"""The resident listener: waits for the wake name, hears a request, and runs it with the devices it
owns for its lifetime (the same flows as the commands), then waits again.

While waiting nothing is stored or sent anywhere: only the voice-activity detector and, for the first
seconds of each voiced segment, one quick decode look at the sound, and a segment without the name
is dropped. What a flow keeps (a reflection's answers, a ripple) is kept as the command would.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from companion.assistants.actions import keep_checkin, keep_ripple, note_session, practice_or_default, since_session
from companion.audio.capture import Microphone
from companion.config import Settings
from companion.conversation.answer import speak
from companion.errors import CompanionError, DeviceError
from companion.events import AudioChunk, Transcript
from companion.listen.requests import understand_request
from companion.listen.wake import END_GAP, Called, WakeDetector
from companion.native_libs import give_back_free_memory
from companion.practice.guide import MIC_BLOCK, OUTPUT_LATENCY, adjusted, run_practice
from companion.practice.runner import PRACTICE_COMMANDS
from companion.practice.speaker import PracticeSpeaker
from companion.practice.timing import LONGEST_MINUTES, SHORTEST_MINUTES
from companion.practice.tones import tone
from companion.speech.base import LoadingEngine, SpeechEngine
from companion.store.database import Store
from companion.terminal import Terminal
from companion.understand.intents import Request, called, kind_reply
from companion.voice.base import Voice

ACKNOWLEDGE = "Yes?"
REQUEST_WAIT = 7.0  # seconds to wait for a request to begin after the acknowledgement
RETRY_EVERY = 3.0  # seconds between tries to open a microphone that went away
WAITING_LINE = "Waiting for “{name}”. Nothing is kept while I wait. (Ctrl-C ends.)"
MIC_GONE = "The microphone is not answering. I'll try again every few seconds."
MIC_BACK = "The microphone is back."


@dataclass
class Heard:
    """One request: its words after the name."""

    text: str
    audio: np.ndarray | None = None  # the request's sound, held only until it is understood


def window_text(engine: SpeechEngine, phrases: list[str] | None = None) -> Callable[[np.ndarray], str]:
    """A quick decode of a short window (the wake check): Whisper's command decoder with no phrases
    given (nothing biases it toward the name), or any engine's own recognizer. With `phrases`, they
    are given to Whisper as the text before the window (the second check of a near name); other
    engines decode as without them."""
    decode_command = getattr(engine, "decode_command", None)
    if decode_command is not None:
        return lambda audio: " ".join(w.word for w in decode_command(audio, phrases))
    return lambda audio: whole_text(engine, audio)


Decoded = TypeVar("Decoded")  # what a wake check's decode gives: the window's words, or the name's score


def wake_detector(engine: SpeechEngine, name: str = "companion") -> WakeDetector:
    """The listener's wake check on `engine`: a decode with nothing given, and (Whisper) when the
    name may be there, a second decode told so, and how likely the window begins with the name."""
    near = _giving_back(window_text(engine, near_name_phrases(name))) if hasattr(engine, "decode_command") else None
    openings = name_openings(name)
    score = _giving_back(lambda audio: engine.opening_score(audio, openings)) if hasattr(engine, "opening_score") else None
    return WakeDetector(_giving_back(window_text(engine)), name, decode_near=near, name_score=score)


def _giving_back(decode: Callable[[np.ndarray], Decoded]) -> Callable[[np.ndarray], Decoded]:
    """`decode` (a window's words, or the name's score), then the memory it freed given back: the
    listener waits between such decodes for hours, and its resident memory stays low."""
    def decoded(audio: np.ndarray) -> Decoded:
        result = decode(audio)
        give_back_free_memory()
        return result
    return decoded


def name_openings(name: str) -> list[str]:
    """How a call to Companion begins, as Whisper writes it: asked of a window where the name may be."""
    spoken, lower = name.strip().title(), name.strip().lower()
    return [spoken, lower, f"Hey {spoken}", f"Hey {lower}", f"hey {lower}", f"Hey, {spoken}", f"A {lower}"]


def near_name_phrases(name: str) -> list[str]:
    """What a person says when calling Companion: given to Whisper when a first word was close to the name."""
    spoken = name.strip().title()
    return [spoken, f"Hey {spoken}", f"{spoken}, help me ground", f"{spoken}, I want to check in"]


REQUEST_HINT = ("Companion, help me ground. Breathe with me for five minutes. Box breathing. Hand on my chest. "
                "I noticed something. Check in. I want to reflect. What did I say since my session? Never mind.")
"""Given to Whisper as the text before a request: the words requests are made of are then the
likely ones ("breathe with me", not "read with me"). Words nobody said are still left out."""


def whole_text(engine: SpeechEngine, audio: np.ndarray, hint: str | None = REQUEST_HINT) -> str:
    """The words of a whole segment (a request; with no `hint`, as said, for words that are kept)."""
    decode_words = getattr(engine, "decode_words", None)
    if decode_words is not None:
        return " ".join(w.word for w in decode_words(audio, hint)).strip()
    recognizer = engine.recognizer()
    events = recognizer.accept(AudioChunk(audio.astype(np.float32, copy=False))) + recognizer.flush()
    return " ".join(e.text for e in events if isinstance(e, Transcript)).strip()


class Listener:
    """Owns the microphone, speaker, voice and the listening engine until stopped."""

    def __init__(self, settings: Settings, engine: SpeechEngine, voice: Voice, store: Store, ui: Terminal,
                 name: str = "companion", final_engine: Callable[[], SpeechEngine] | None = None) -> None:
        self.settings, self.engine, self.voice, self.store, self.ui = settings, engine, voice, store, ui
        self.name = name
        self.final_engine = final_engine or (lambda: engine)
        self.wake = wake_detector(engine, name)
        self.mic: Microphone | None = None
        self.speaker: PracticeSpeaker | None = None

    # devices

    def open(self) -> Listener:
        self.speaker = PracticeSpeaker(self.settings.output_device, latency=OUTPUT_LATENCY).start()
        self.mic = self._new_mic()
        return self

    def close(self) -> None:
        if self.mic:
            self.mic.stop()
        if self.speaker:
            self.speaker.stop()

    def _new_mic(self) -> Microphone:
        return Microphone(self.settings.input_device, block_seconds=MIC_BLOCK, latency="low").start()

    def _read(self) -> np.ndarray:
        """The next samples from the microphone; when it goes away, say so once, retry every few
        seconds, and carry on when it is back."""
        assert self.mic is not None
        try:
            return self.mic.read().samples
        except DeviceError:
            pass
        self.ui.say(MIC_GONE)
        while True:
            self.mic.stop()
            time.sleep(RETRY_EVERY)
            try:
                self.mic = self._new_mic()
                samples = self.mic.read().samples
            except CompanionError:
                continue
            self.ui.say(MIC_BACK)
            self.wake.segmenter.reset()
            return samples

    # the loop

    def run(self, once: bool = False) -> None:
        """Wait, hear, do; again (until Ctrl-C, or after one request when `once`)."""
        self.voice.prepare([ACKNOWLEDGE, kind_reply(Request("unknown")), kind_reply(Request("cancel"))])
        while True:
            self.ui.say(WAITING_LINE.format(name=self.name.capitalize()))
            heard = self.wait_for_request()
            if heard is not None:
                self.do(self.understood(heard))
            self._settle()
            if once:
                return

    def understood(self, heard: Heard) -> Request:
        """What was asked. A ripple or a check-in said with the request is kept in words decoded
        again without the request words as a hint, so they are the person's own ("I breathed", not
        "I breathe"); the sound is then let go."""
        request = understand_request(heard.text, self.name)
        if request.intent in ("ripple", "checkin") and request.text and heard.audio is not None:
            plain = whole_text(self.engine, heard.audio, hint=None)
            again = understand_request(called(plain, self.name) or plain, self.name)
            if again.intent == request.intent and again.text:
                request = again
        heard.audio = None
        return request

    def wait_for_request(self) -> Heard | None:
        """Wait for the name; then the request, said with it or after the acknowledgement."""
        while True:
            call = self.wake.accept(self._read())
            if call is None:
                continue
            self.ui.say(f"(heard: {call.heard})")
            if call.rest or not call.pause:  # the request goes on in the same breath
                text, audio = self._rest_of_segment(call)
                if text:
                    return Heard(text, audio)
            self._acknowledge()
            return self._request_after_acknowledgement()

    def _rest_of_segment(self, call: Called) -> tuple[str, np.ndarray]:
        """The words after the name, once the request has ended (its segment, or over other voices
        the louder voice it was said in), and its sound."""
        request = self.wake.request_after(call)
        audio = None
        while audio is None:
            audio = request.accept(self._read())
        text = whole_text(self.engine, audio)
        rest = called(text, self.name)
        return (rest if rest is not None else call.rest), audio

    def _acknowledge(self) -> None:
        assert self.speaker is not None
        samples, rate = self.voice.render(ACKNOWLEDGE)
        chime = tone("inhale", rate, seconds=0.25, volume=self.settings.volume * 0.6)
        gap = np.zeros(int(0.05 * rate), np.float32)
        self.ui.say(ACKNOWLEDGE)
        self.speaker.wait(self.speaker.play(np.concatenate([chime, gap, samples]).astype(np.float32), rate))
        time.sleep(0.15)
        assert self.mic is not None
        self.mic.drain()
        self.wake.segmenter.reset()

    def _request_after_acknowledgement(self) -> Heard | None:
        """The next request (its segment, or over other voices a louder voice), if it begins within
        REQUEST_WAIT; None (back to waiting) if not."""
        request = self.wake.request_after_acknowledgement()
        self.ui.say("(listening for your request)")
        began = time.monotonic()
        while True:
            audio = request.accept(self._read())
            if audio is not None:
                text = whole_text(self.engine, audio)
                rest = called(text, self.name)  # the name said again is not part of the request
                if not (rest or text):
                    return None
                return Heard(rest if rest is not None else text, audio)
            if not request.begun and time.monotonic() - began > REQUEST_WAIT:
                return None

    def _settle(self) -> None:
        """Back to waiting: what was heard meanwhile (Companion's own voice) is dropped."""
        time.sleep(END_GAP / 4)
        if self.mic:
            self.mic.drain()
        self.wake.segmenter.reset()
        gc.collect()
        give_back_free_memory()

    # doing what was asked

    def say(self, text: str) -> None:
        self.ui.say(text)
        speak(self.voice, self.speaker, self.mic, text)

    def do(self, request: Request) -> None:
        self.ui.say(f"(understood: {request.intent}{' ' + request.practice if request.practice else ''}; heard: {request.heard})")
        reply = kind_reply(request)  # the crisis note before anything else; the kind answer to unknown or cancel
        if reply:
            self.say(reply)
        if request.intent in ("cancel", "unknown", "stop"):
            return
        if request.intent == "practice":
            self.practice(request)
        elif request.intent == "ripple":
            self.note("ripple", request.text)
        elif request.intent == "checkin":
            self.note("checkin", request.text)
        elif request.intent == "session":
            self.say(note_session(self.store).text)
        elif request.intent == "review":
            self.say(since_session(self.store, request.kind).text)
        elif request.intent == "reflect":
            self.reflect()

    def practice(self, request: Request) -> None:
        assert self.speaker is not None and self.mic is not None
        minutes = request.minutes
        if minutes is not None and not SHORTEST_MINUTES <= minutes <= LONGEST_MINUTES:
            minutes = min(max(minutes, SHORTEST_MINUTES), LONGEST_MINUTES)
            self.ui.say(f"(a practice lasts between half a minute and an hour: about {minutes:g} minutes, then)")
        chosen = practice_or_default(request)  # "help me ground": the short, gentle one begins at once
        run_practice(self.store, adjusted(chosen, None, minutes, None), self.speaker, self.voice, self.mic,
                     self.engine, with_name(PRACTICE_COMMANDS, self.name), "both",
                     on_mic_failed=lambda error: self.ui.say(f"(voice control stopped: {error})"))

    def note(self, kind: str, text: str | None) -> None:
        """A ripple or a check-in: kept at once when its words came with the request, else asked for."""
        if text:
            keep = keep_ripple if kind == "ripple" else keep_checkin
            self.say(keep(self.store, text, source=self.engine.name).text)
            return
        from companion.notice.flow import CHECKIN_PROMPT, RIPPLE_PROMPT, Noticing

        self.voice.prepare([RIPPLE_PROMPT if kind == "ripple" else CHECKIN_PROMPT])  # before the model loads
        engine = self.final_engine()
        try:
            noticing = Noticing(self.store, engine, self.mic, self.speaker, self.voice, self.ui,
                                self.settings.silence, self.settings.wait)
            noticing.ripple() if kind == "ripple" else noticing.checkin()
        finally:
            _settled(engine)

    def reflect(self) -> None:
        from companion.reflect.flow import Reflection
        from companion.reflect.opening import phrases

        self.voice.prepare(phrases(self.settings))  # the opening first, before the model loads
        engine = self.final_engine()
        try:
            Reflection(self.store, engine, self.mic, self.speaker, self.voice, self.settings, self.ui).run()
        finally:
            _settled(engine)


def with_name(commands: dict[str, list[str]], name: str) -> dict[str, list[str]]:
    """A flow's spoken commands, each also said after the wake name ("Companion, stop")."""
    return {command: [*phrases, *(f"{name} {p}" for p in phrases)] for command, phrases in commands.items()}


def _settled(engine: SpeechEngine) -> None:
    if isinstance(engine, LoadingEngine):
        engine.settle()
