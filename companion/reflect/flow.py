"""The spoken reflection: Companion asks its questions aloud and keeps each answer, audio and text."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta

from companion.audio.capture import Microphone
from companion.audio.playback import Clip, Speaker
from companion.audio.wavfile import join_recordings
from companion.config import Settings
from companion.conversation.answer import (  # noqa: F401 (ECHO_GUARD, TRAILING_KEEP re-exported)
    ECHO_GUARD,
    TRAILING_KEEP,
    Answer,
    Interruption,
    finish_speaking,
    kept_so_far,
    record_answer,
    speak,
    speak_listening,
)
from companion.conversation.recovery import recover, recovered_line
from companion.errors import StorageError
from companion.events import Word
from companion.paths import data_dir, ensure_private_dir
from companion.reflect.opening import (
    CLOSING_EMPTY,
    CLOSING_SAVED,
    opening_for,
    phrases,
    spoken_parts,
)
from companion.speech.base import SpeechEngine
from companion.store.database import Store
from companion.store.pending import Pending, clear_pending
from companion.store.sessions import session_for
from companion.terminal import Terminal
from companion.understand.crisis import crisis_note_enabled, crisis_note_for
from companion.voice.base import Voice


GOES_ON_BEFORE = 0.5  # speaking over the first half of a question goes on with the last answer
GOES_ON_TIMES = 3  # ...at most this many times in a row (then it is taken as this question's answer)


class Reflection:
    """One sitting: an opening, the questions one at a time, a closing; every answer stored as it ends."""

    def __init__(self, store: Store, engine: SpeechEngine, mic: Microphone, speaker: Speaker, voice: Voice,
                 settings: Settings, ui: Terminal) -> None:
        self.store, self.engine, self.mic, self.speaker = store, engine, mic, speaker
        self.voice, self.settings, self.ui = voice, settings, ui
        self.gate = Interruption()

    def speak(self, text: str) -> None:
        speak(self.voice, self.speaker, self.mic, text)

    def run(self, greeting: Clip | None = None) -> int:
        """Run the reflection; returns the number of answers stored. `greeting`: the opening's greeting,
        already playing (`companion.reflect.opening.greet`); the rest of the opening follows it.

        If the person speaks while a question is being asked, Companion stops and listens: early in
        the question, what they say goes on their last answer (they were not done) and the question
        is asked again; later in it, it is the beginning of the answer to this question."""
        prompts = self.settings.prompts
        opening = opening_for(self.settings)
        self.voice.prepare(phrases(self.settings))  # ready before they are asked (nothing to do when the command began it)
        self.ui.say(opening)
        parts = spoken_parts(opening)
        if greeting is not None:
            finish_speaking(self.speaker, self.mic, greeting)
            parts = parts[1:]
        for part in parts:
            speak_listening(self.voice, self.speaker, self.mic, part, self.gate, learn=True)
        self.recover()
        session_id = session_for(self.store)
        reflection_id = self.store.start_reflection(session_id, self.engine.name, self.engine.model_name)
        stored = 0
        previous: tuple[int, Answer] | None = None  # the answer just stored, while it may still go on
        number, room_db, went_on = 0, -90.0, 0
        try:
            while number < len(prompts):
                prompt = prompts[number]
                self.ui.question(number + 1, len(prompts), prompt)
                heard = speak_listening(self.voice, self.speaker, self.mic, prompt, self.gate, room_db)
                lead = heard.lead if heard else None
                if heard and previous is not None and heard.at < GOES_ON_BEFORE and went_on < GOES_ON_TIMES:
                    went_on += 1
                    more = self.listen(previous[1].prompt, reflection_id, number, lead,
                                       "  (still listening - your last answer goes on)")
                    whole = self.add_to_answer(previous[0], previous[1], more)
                    previous = (previous[0], whole)
                    if more.interrupted is not None:
                        raise kept_so_far(more.interrupted)
                    self.care(more.text)
                    if more.command == "done":
                        break
                    continue  # the question again, whole
                went_on = 0
                answer = self.listen(prompt, reflection_id, number + 1, lead)
                room_db = answer.room_db
                number += 1
                if answer.audio is None:
                    previous = None
                    if answer.interrupted is not None:
                        raise answer.interrupted
                    self.ui.say("  (moving on)")
                    if answer.command == "done":
                        break
                    continue
                previous = (self.store_answer(answer, reflection_id, session_id), answer)
                stored += 1
                if answer.interrupted is not None:
                    raise kept_so_far(answer.interrupted)
                self.care(answer.text)
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

    def care(self, text: str) -> None:
        """The crisis note, after saving (never instead of it), when the words call for it."""
        note = crisis_note_for(text, crisis_note_enabled())
        if note:
            self.ui.say(note)
            self.speak(note)

    def add_to_answer(self, entry_id: int, first: Answer, more: Answer) -> Answer:
        """The stored answer `first` with `more` after it: one recording, its words, one entry."""
        if more.audio is None or first.audio is None:
            return first
        whole = first.audio.with_name(f"{first.audio.stem}-whole-{datetime.now():%H%M%S%f}.wav")
        offset = join_recordings(first.audio, more.audio, whole)
        words = first.words + [Word(w.word, w.start + offset, w.end + offset, w.conf) for w in more.words]
        duration = offset + more.duration
        self.store.replace_recording(entry_id, words=words, audio=str(whole.relative_to(data_dir())),
                                     duration=round(duration, 3),
                                     ended_at=first.started_at + timedelta(seconds=duration))
        clear_pending(more.audio)
        for path in (first.audio, more.audio):
            path.unlink(missing_ok=True)
        self.ui.say("  (added to your last answer)")
        return Answer(first.prompt, words, whole, first.started_at, duration, more.command, None, more.room_db)

    def store_answer(self, answer: Answer, reflection_id: int, session_id: int | None) -> int:
        """Save one answer; if that fails (a full disk), its audio stays on disk and is saved next time."""
        assert answer.audio is not None
        try:
            entry_id = self.store.add_entry(
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
        return entry_id

    def recover(self) -> None:
        """Store answers a previous run was stopped in the middle of (kill -9, power cut), and say so."""
        found = recover(self.store, self.engine)
        if found:
            line = recovered_line(len(found))
            self.ui.say(line)
            self.speak(line)

    def listen(self, prompt: str, reflection_id: int, number: int, lead: list | None = None,
               listening: str | None = None) -> Answer:
        """Record one answer until a long pause, a spoken command, or no answer at all (then no audio)."""
        started = datetime.now().astimezone()
        folder = ensure_private_dir(data_dir() / "audio" / started.strftime("%Y-%m"))
        path = folder / f"reflection-{reflection_id}-{number}-{started:%Y%m%dT%H%M%S}-{started.microsecond:06d}.wav"
        pending = Pending("reflection", prompt, started.isoformat(timespec="seconds"), reflection_id,
                          self.store.get_reflection(reflection_id)["session_id"])
        return record_answer(self.mic, self.engine, self.ui, prompt, path,
                             self.settings.silence, self.settings.wait, started, pending, lead, listening)

