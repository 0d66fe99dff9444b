"""The spoken reflection: Companion asks its questions aloud and keeps each answer, audio and text."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.care import crisis_note_enabled, crisis_note_for
from companion.config import Settings
from companion.errors import StorageError
from companion.paths import data_dir, ensure_private_dir
from companion.recovery import Pending, clear_pending, recover, recovered_line
from companion.sessions import session_for
from companion.speech.base import SpeechEngine
from companion.spoken import ECHO_GUARD, TRAILING_KEEP, Answer, kept_so_far, record_answer, speak  # noqa: F401 (re-exported)
from companion.storage import Store
from companion.ui import Terminal
from companion.voice import Voice

def how_many_questions(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    count = words[n] if n < len(words) else str(n)
    return f"{count} short question" + ("" if n == 1 else "s")


OPENING = (
    "Hello. Let's take a few quiet minutes with what came up in your session. "
    "I'll ask {count}. Answer in your own words. "
    "When you have finished, a pause is enough, or say next."
)
CLOSING_SAVED = "Thank you. Your reflection is saved. You can read it back any time with companion list."
CLOSING_EMPTY = "Nothing was recorded this time, and that's okay. You can come back whenever you like."


class Reflection:
    """One sitting: an opening, the questions one at a time, a closing; every answer stored as it ends."""

    def __init__(self, store: Store, engine: SpeechEngine, mic: Microphone, speaker: Speaker, voice: Voice,
                 settings: Settings, ui: Terminal) -> None:
        self.store, self.engine, self.mic, self.speaker = store, engine, mic, speaker
        self.voice, self.settings, self.ui = voice, settings, ui

    def speak(self, text: str) -> None:
        speak(self.voice, self.speaker, self.mic, text)

    def run(self) -> int:
        """Run the reflection; returns the number of answers stored."""
        prompts = self.settings.prompts
        for prompt in prompts:  # render everything up front, so no phrase is rendered on the beat
            self.voice.render(prompt)
        self.recover()
        session_id = session_for(self.store)
        reflection_id = self.store.start_reflection(session_id, self.engine.name, self.engine.model_name)
        opening = OPENING.format(count=how_many_questions(len(prompts)))
        self.ui.say(opening)
        self.speak(opening)
        stored = 0
        try:
            for number, prompt in enumerate(prompts, 1):
                self.ui.question(number, len(prompts), prompt)
                self.speak(prompt)
                answer = self.listen(prompt, reflection_id, number)
                if answer.audio is None:
                    if answer.interrupted is not None:
                        raise answer.interrupted
                    self.ui.say("  (moving on)")
                    if answer.command == "done":
                        break
                    continue
                self.store_answer(answer, reflection_id, session_id)
                stored += 1
                if answer.interrupted is not None:
                    raise kept_so_far(answer.interrupted)
                note = crisis_note_for(answer.text, crisis_note_enabled())
                if note:  # after saving, never instead of it
                    self.ui.say(note)
                    self.speak(note)
                if answer.command == "done":
                    break
        finally:
            with contextlib.suppress(sqlite3.OperationalError):  # a full disk: the sitting stays open
                self.store.finish_reflection(reflection_id)
        closing = CLOSING_SAVED if stored else CLOSING_EMPTY
        self.ui.say("")
        self.ui.say(closing)
        self.speak(closing)
        return stored

    def store_answer(self, answer: Answer, reflection_id: int, session_id: int | None) -> None:
        """Save one answer; if that fails (a full disk), its audio stays on disk and is saved next time."""
        assert answer.audio is not None
        try:
            self.store.add_entry(
                "reflection", answer.text, prompt=answer.prompt, words=answer.words,
                audio=str(answer.audio.relative_to(data_dir())),
                started_at=answer.started_at.isoformat(timespec="seconds"),
                ended_at=(answer.started_at + timedelta(seconds=answer.duration)).isoformat(timespec="seconds"),
                duration=round(answer.duration, 3), engine=self.engine.name, model=self.engine.model_name,
                reflection_id=reflection_id, session_id=session_id,
            )
            clear_pending(answer.audio)
        except StorageError as e:
            raise StorageError(e.message, "free some space; your answer is kept on disk and is saved the next "
                                          "time Companion starts") from None

    def recover(self) -> None:
        """Store answers a previous run was stopped in the middle of (kill -9, power cut), and say so."""
        found = recover(self.store, self.engine)
        if found:
            line = recovered_line(len(found))
            self.ui.say(line)
            self.speak(line)

    def listen(self, prompt: str, reflection_id: int, number: int) -> Answer:
        """Record one answer until a long pause, a spoken command, or no answer at all (then no audio)."""
        started = datetime.now().astimezone()
        folder = ensure_private_dir(data_dir() / "audio" / started.strftime("%Y-%m"))
        path = folder / f"reflection-{reflection_id}-{number}-{started.strftime('%Y%m%dT%H%M%S')}.wav"
        pending = Pending("reflection", prompt, started.isoformat(timespec="seconds"), reflection_id,
                          self.store.get_reflection(reflection_id)["session_id"])
        return record_answer(self.mic, self.engine, self.ui, prompt, path,
                             self.settings.silence, self.settings.wait, started, pending)

