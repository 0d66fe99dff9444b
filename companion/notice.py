"""Noticing during the week: ripples (a small shift, said in a few words) and body check-ins.

Body-state mapping is pure and data-driven (companion/data/body_states.toml, extendable by a file of
the same shape at COMPANION_HOME/body_states.toml). `Noticing` does the speaking and recording.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.care import crisis_note_for
from companion.errors import CompanionError
from companion.paths import data_dir, ensure_private_dir
from companion.speech.base import SpeechEngine
from companion.recovery import Pending, clear_pending, recover, recovered_line
from companion.spoken import Answer, kept_so_far, record_answer, speak
from companion.storage import Store
from companion.textnorm import normalize_words
from companion.ui import Terminal
from companion.voice import Voice

RIPPLE_PROMPT = "What small shift did you notice? A few words are enough."
CHECKIN_PROMPT = "How does your body feel right now?"
RIPPLE_KEPT = "Thank you. Your ripple is kept."
CHECKIN_KEPT_STATES = "Thank you. I noted {states}."
CHECKIN_KEPT_WORDS = "Thank you. Your words are kept as you said them."
NOTHING_KEPT = "Nothing was recorded, and that's okay. You can come back whenever you like."

NEGATIONS = {"not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "hardly", "nor", "without"}
FILLER = {
    "i", "i'm", "im", "am", "feel", "feels", "feeling", "a", "an", "the", "bit", "little", "kind", "of",
    "sort", "very", "quite", "pretty", "really", "so", "and", "but", "or", "my", "body", "is", "it", "it's",
    "its", "right", "now", "today", "somewhat", "rather", "too", "also", "just", "like", "in", "at", "with",
    "me", "some", "more", "less", "than", "bit", "slightly", "mostly", "all", "over", "well", "okay", "ok",
    "um", "uh", "there", "this", "that", "still", "maybe", "though", "yet", "mm", "hmm", "fairly",
    "are", "was", "were", "be", "been", "has", "have", "had", "to", "for", "on", "lot", "much", "bits",
} | NEGATIONS
_SUFFIXES = ("", "s", "d", "ed", "ing", "ness", "ly", "er")


@dataclass(frozen=True)
class BodyStates:
    """What a check-in answer said: the states it maps to, and the words kept as they are."""

    states: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def load_body_vocabulary(extra_file: Path | None = None) -> dict[str, list[str]]:
    """State name -> words and phrases, from the packaged data and an optional file of the same shape."""
    text = resources.files("companion").joinpath("data", "body_states.toml").read_text(encoding="utf-8")
    vocabulary = {name: list(value["words"]) for name, value in tomllib.loads(text)["states"].items()}
    extra_file = extra_file if extra_file is not None else data_dir() / "body_states.toml"
    if extra_file.is_file():
        hint = "it should look like companion/data/body_states.toml; fix or remove it"
        try:
            extra = tomllib.loads(extra_file.read_text(encoding="utf-8")).get("states", {})
        except OSError as e:
            raise CompanionError(f"{extra_file} cannot be read: {e.strerror or e}", "check its permissions, or remove it") from None
        except UnicodeDecodeError as e:
            raise CompanionError(f"{extra_file} is not UTF-8 text (the byte 0x{e.object[e.start]:02x} at position {e.start})",
                                 "save it as UTF-8, or remove it") from None
        except tomllib.TOMLDecodeError as e:
            raise CompanionError(f"{extra_file} is not valid TOML: {e}", hint) from None
        if not isinstance(extra, dict):
            raise CompanionError(f"{extra_file}: [states] should be a table of states", hint)
        for name, value in extra.items():
            words = value.get("words", []) if isinstance(value, dict) else None
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise CompanionError(f"{extra_file}: the state '{name}' should have words = [\"...\", ...]", hint)
            vocabulary.setdefault(name, []).extend(words)
    for name in vocabulary:  # the state's own name always counts
        vocabulary[name].insert(0, name)
    return vocabulary


def _phrase_table(vocabulary: dict[str, list[str]]) -> dict[tuple[str, ...], str]:
    """Every phrase (and simple word forms of one-word entries) -> its state."""
    table: dict[tuple[str, ...], str] = {}
    for state, phrases in vocabulary.items():
        for phrase in phrases:
            words = tuple(normalize_words(phrase))
            if not words:
                continue
            if len(words) == 1:
                stem = words[0][:-1] if words[0].endswith("e") else words[0]
                for suffix in _SUFFIXES:
                    table.setdefault((words[0] + suffix,), state)
                    table.setdefault((stem + suffix,), state)
            table[words] = state
    return table


def map_body_states(text: str, vocabulary: dict[str, list[str]]) -> BodyStates:
    """The states named in `text` (several are fine, in the order said); other content words kept as unknown.

    A state right after a negation ("not tired") is not counted; its words stay in `unknown`.
    """
    words = normalize_words(text)
    table = _phrase_table(vocabulary)
    longest = max((len(p) for p in table), default=1)
    states: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            state = table.get(tuple(words[i : i + n]))
            if state:
                negated = any(w in NEGATIONS for w in words[max(0, i - 2) : i])
                if negated:
                    unknown.append(" ".join(words[max(0, i - 1) : i + n]))
                elif state not in states:
                    states.append(state)
                i += n
                break
        else:
            if words[i] not in FILLER:
                unknown.append(words[i])
            i += 1
    return BodyStates(states, unknown)


def states_phrase(states: list[str]) -> str:
    """"tired", "tired and tense", "tired, tense and calm"."""
    return states[0] if len(states) == 1 else ", ".join(states[:-1]) + " and " + states[-1]


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


def save_ripple(store: Store, text: str, answer: Answer | None = None, crisis_note: bool = True, engine: SpeechEngine | None = None) -> Saved:
    """Store a ripple (typed, or spoken with its audio); returns what to say back."""
    entry_id = store.add_entry("ripple", text.strip(), prompt=RIPPLE_PROMPT if answer else None,
                               session_id=_last_session_id(store), **_answer_fields(store, answer, engine))
    return Saved(entry_id, text, RIPPLE_KEPT, crisis_note_for(text, crisis_note))


def save_checkin(store: Store, text: str, answer: Answer | None = None, crisis_note: bool = True,
                 engine: SpeechEngine | None = None, vocabulary: dict[str, list[str]] | None = None) -> Saved:
    """Store a check-in with the body states its words map to; unknown words are kept, not forced."""
    found = map_body_states(text, vocabulary if vocabulary is not None else load_body_vocabulary())
    extra = {"states": found.states, "unknown_words": found.unknown}
    with store.db.atomic():
        entry_id = store.add_entry("checkin", text.strip(), prompt=CHECKIN_PROMPT, extra=extra,
                                   session_id=_last_session_id(store), **_answer_fields(store, answer, engine))
        store.set_entry_states(entry_id, found.states)
    return Saved(entry_id, text, checkin_reply(found), crisis_note_for(text, crisis_note), found)


def _answer_fields(store: Store, answer: Answer | None, engine: SpeechEngine | None) -> dict:
    if answer is None or answer.audio is None:
        return {}
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
