"""The spoken reflection: Companion asks its questions aloud and keeps each answer, audio and text."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.audio.wavfile import GrowingWav
from companion.commands import split_trailing_command
from companion.config import Settings
from companion.events import Partial, Transcript, Word
from companion.paths import data_dir, ensure_private_dir
from companion.sessions import session_for
from companion.speech.base import SpeechEngine, join_words
from companion.storage import Store
from companion.ui import Terminal
from companion.vad import EnergyVad
from companion.voice import Voice

OPENING = (
    "Hello. Let's take a few quiet minutes with what came up in your session. "
    "I'll ask {count} short questions. Answer in your own words. "
    "When you have finished, a pause is enough, or say next."
)
CLOSING_SAVED = "Thank you. Your reflection is saved. You can read it back any time with companion list."
CLOSING_EMPTY = "Nothing was recorded this time, and that's okay. You can come back whenever you like."
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


class Reflection:
    """One sitting: an opening, the questions one at a time, a closing; every answer stored as it ends."""

    def __init__(self, store: Store, engine: SpeechEngine, mic: Microphone, speaker: Speaker, voice: Voice,
                 settings: Settings, ui: Terminal) -> None:
        self.store, self.engine, self.mic, self.speaker = store, engine, mic, speaker
        self.voice, self.settings, self.ui = voice, settings, ui

    def speak(self, text: str) -> None:
        samples, rate = self.voice.render(text)
        self.speaker.wait(self.speaker.play(samples, rate))
        time.sleep(ECHO_GUARD)
        self.mic.drain()

    def run(self) -> int:
        """Run the reflection; returns the number of answers stored."""
        prompts = self.settings.prompts
        for prompt in prompts:  # render everything up front, so no phrase is rendered on the beat
            self.voice.render(prompt)
        session_id = session_for(self.store)
        reflection_id = self.store.start_reflection(session_id, self.engine.name, self.engine.model_name)
        self.ui.say(OPENING.format(count=len(prompts)))
        self.speak(OPENING.format(count=len(prompts)))
        stored = 0
        try:
            for number, prompt in enumerate(prompts, 1):
                self.ui.question(number, len(prompts), prompt)
                self.speak(prompt)
                answer = self.listen(prompt, reflection_id, number)
                if answer.audio is None:
                    self.ui.say("  (moving on)")
                    if answer.command == "done":
                        break
                    continue
                self.store.add_entry(
                    "reflection", answer.text, prompt=prompt, words=answer.words,
                    audio=str(answer.audio.relative_to(data_dir())),
                    started_at=answer.started_at.isoformat(timespec="seconds"),
                    ended_at=(answer.started_at + timedelta(seconds=answer.duration)).isoformat(timespec="seconds"),
                    duration=round(answer.duration, 3), engine=self.engine.name, model=self.engine.model_name,
                    reflection_id=reflection_id, session_id=session_id,
                )
                stored += 1
                if answer.command == "done":
                    break
        finally:
            self.store.finish_reflection(reflection_id)
        closing = CLOSING_SAVED if stored else CLOSING_EMPTY
        self.ui.say("")
        self.ui.say(closing)
        self.speak(closing)
        return stored


    def listen(self, prompt: str, reflection_id: int, number: int) -> Answer:
        """Record one answer until a long pause, a spoken command, or no answer at all (then no audio)."""
        started = datetime.now().astimezone()
        folder = ensure_private_dir(data_dir() / "audio" / started.strftime("%Y-%m"))
        path = folder / f"reflection-{reflection_id}-{number}-{started.strftime('%Y%m%dT%H%M%S')}.wav"
        recognizer = self.engine.recognizer(context=prompt)
        vad = EnergyVad()
        words: list[Word] = []
        command = None
        self.ui.listening()
        with GrowingWav(path) as wav:
            while command is None:
                chunk = self.mic.read()
                wav.write(chunk.samples)
                vad.accept(chunk.samples)
                for event in recognizer.accept(chunk):
                    command = self._take(event, words) or command
                heard = vad.last_voice_time is not None
                if heard and vad.silence_for() >= self.settings.silence:
                    break
                if not heard and vad.now >= self.settings.wait:
                    break
            for event in recognizer.flush():
                command = self._take(event, words) or command
            if vad.last_voice_time is not None:  # keep every word, and a little quiet after the last
                last_word_end = max((w.end for w in words), default=0.0)
                wav.truncate(max(vad.last_voice_time, last_word_end) + TRAILING_KEEP)
            duration = wav.duration
        if not words and (vad.last_voice_time is None or command is not None):
            path.unlink(missing_ok=True)  # silence, or only "skip" / "next": nothing to keep
            return Answer(prompt, [], None, started, 0.0, command)
        return Answer(prompt, words, path, started, duration, command)

    def _take(self, event, words: list[Word]) -> str | None:
        if isinstance(event, Partial):
            self.ui.partial(event.text)
            return None
        if isinstance(event, Transcript):
            kept, command = split_trailing_command(list(event.words))
            if kept:
                words.extend(kept)
                self.ui.final(join_words(kept))
            return command
        return None
