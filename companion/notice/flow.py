"""Noticing during the week: ripples (a small shift, said in a few words) and body check-ins, typed
or spoken. `Noticing` does the speaking and recording; the body states come from
companion.understand.body_states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.conversation.answer import Answer, kept_so_far, record_answer, speak
from companion.conversation.recovery import recover, recovered_line
from companion.paths import data_dir, ensure_private_dir
from companion.speech.base import SpeechEngine
from companion.store.database import Store
from companion.store.pending import Pending, clear_pending
from companion.terminal import Terminal
from companion.understand.body_states import (
    BodyStates,
    load_body_vocabulary,
    map_body_states,
    states_phrase,
)
from companion.understand.crisis import crisis_note_for
from companion.voice.base import Voice

RIPPLE_PROMPT = "What small shift did you notice? A few words are enough."
CHECKIN_PROMPT = "How does your body feel right now?"
RIPPLE_KEPT = "Thank you. Your ripple is kept."
CHECKIN_KEPT_STATES = "Thank you. I noted {states}."
CHECKIN_KEPT_WORDS = "Thank you. Your words are kept as you said them."
NOTHING_KEPT = "Nothing was recorded, and that's okay. You can come back whenever you like."

def checkin_reply(found: BodyStates) -> str:
    """What Companion says after a check-in: the states it noted, or that the words are kept."""
    return CHECKIN_KEPT_STATES.format(states=states_phrase(found.states)) if found.states else CHECKIN_KEPT_WORDS


@dataclass
class Saved:
    entry_id: int
    text: str
    reply: str
    crisis_note: str | None
    states: BodyStates | None = None


def _last_session_id(store: Store) -> int | None:
    session = store.last_session(before=datetime.now().astimezone() + timedelta(seconds=1))
    return session["id"] if session else None


def save_ripple(store: Store, text: str, answer: Answer | None = None, crisis_note: bool = True,
                engine: SpeechEngine | None = None, source: str | None = None) -> Saved:
    """Store a ripple (typed, spoken with its audio, or heard by another assistant named by `source`,
    without audio); returns what to say back."""
    entry_id = store.add_entry("ripple", text.strip(), prompt=RIPPLE_PROMPT if answer else None,
                               session_id=_last_session_id(store), **_answer_fields(store, answer, engine, source))
    return Saved(entry_id, text, RIPPLE_KEPT, crisis_note_for(text, crisis_note))


def save_checkin(store: Store, text: str, answer: Answer | None = None, crisis_note: bool = True,
                 engine: SpeechEngine | None = None, vocabulary: dict[str, list[str]] | None = None,
                 source: str | None = None) -> Saved:
    """Store a check-in with the body states its words map to; unknown words are kept, not forced."""
    found = map_body_states(text, vocabulary if vocabulary is not None else load_body_vocabulary())
    extra = {"states": found.states, "unknown_words": found.unknown}
    with store.db.atomic():
        entry_id = store.add_entry("checkin", text.strip(), prompt=CHECKIN_PROMPT, extra=extra,
                                   session_id=_last_session_id(store), **_answer_fields(store, answer, engine, source))
        store.set_entry_states(entry_id, found.states)
    return Saved(entry_id, text, checkin_reply(found), crisis_note_for(text, crisis_note), found)


def _answer_fields(store: Store, answer: Answer | None, engine: SpeechEngine | None, source: str | None = None) -> dict:
    if answer is None or answer.audio is None:
        return {"engine": source} if source else {}
    return {
        "words": answer.words, "audio": str(answer.audio), "duration": round(answer.duration, 3),
        "started_at": answer.started_at.isoformat(timespec="seconds"),
        "ended_at": (answer.started_at + timedelta(seconds=answer.duration)).isoformat(timespec="seconds"),
        "engine": engine.name if engine else None, "model": engine.model_name if engine else None,
    }


class Noticing:
    """Asks one short spoken question, records the answer, stores it and answers gently."""

    def __init__(self, store: Store, engine: SpeechEngine, mic: Microphone, speaker: Speaker, voice: Voice,
                 ui: Terminal, silence: float, wait: float, crisis_note: bool = True) -> None:
        self.store, self.engine, self.mic, self.speaker, self.voice = store, engine, mic, speaker, voice
        self.ui, self.silence, self.wait, self.crisis_note = ui, silence, wait, crisis_note

    def say(self, text: str) -> None:
        self.ui.say(text)
        speak(self.voice, self.speaker, self.mic, text)

    def ask(self, kind: str, prompt: str) -> Answer:
        self.ui.say("")
        self.ui.say(prompt)
        speak(self.voice, self.speaker, self.mic, prompt)
        started = datetime.now().astimezone()
        folder = ensure_private_dir(data_dir() / "audio" / started.strftime("%Y-%m"))
        path = folder / f"{kind}-{started.strftime('%Y%m%dT%H%M%S')}-{started.microsecond:06d}.wav"
        pending = Pending(kind, prompt, started.isoformat(timespec="seconds"), None, _last_session_id(self.store))
        return record_answer(self.mic, self.engine, self.ui, prompt, path, self.silence, self.wait, started, pending)

    def recover(self) -> None:
        """Store answers a previous run was stopped in the middle of (kill -9, power cut), and say so."""
        found = recover(self.store, self.engine)
        if found:
            self.say(recovered_line(len(found)))

    def ripple(self) -> Saved | None:
        self.recover()
        answer = self.ask("ripple", RIPPLE_PROMPT)
        if answer.audio is None:
            if answer.interrupted is not None:
                raise answer.interrupted
            self.say(NOTHING_KEPT)
            return None
        saved = save_ripple(self.store, answer.text, answer, self.crisis_note, self.engine)
        return self.finish(saved, answer)

    def checkin(self) -> Saved | None:
        self.recover()
        answer = self.ask("checkin", CHECKIN_PROMPT)
        if answer.audio is None:
            if answer.interrupted is not None:
                raise answer.interrupted
            self.say(NOTHING_KEPT)
            return None
        saved = save_checkin(self.store, answer.text, answer, self.crisis_note, self.engine)
        return self.finish(saved, answer)

    def finish(self, saved: Saved, answer: Answer | None = None) -> Saved:
        if answer is not None and answer.audio is not None:
            clear_pending(answer.audio)
            if answer.interrupted is not None:
                raise kept_so_far(answer.interrupted)
        self.say(saved.reply)
        if saved.crisis_note:
            self.say(saved.crisis_note)
        return saved
