"""Companion's OpenVoiceOS skill: the assistant hears, Companion understands and keeps.

The Padatious intents (locale/en-us/*.intent) only bring an utterance here; what it asks for, and
its practice, length and own words, come from Companion's one intent layer
(companion/listen/requests.py), so the skill, `companion listen` and the Wyoming handler agree.
Entries are kept in the person's own database with `engine = "ovos"` and no audio: the assistant's
speech recognition did the hearing, and Companion never had the recording.
"""

from __future__ import annotations

import threading

from ovos_bus_client.message import Message
from ovos_workshop.decorators import intent_handler
from ovos_workshop.skills import OVOSSkill

from companion import config
from companion.assistants.actions import (
    chosen_practice, keep_checkin, keep_reflection, keep_ripple, note_session, reflection_questions, reply_for,
    since_session,
)
from companion.assistants.ovos.cues import fitted, length_said, run, schedule
from companion.errors import CompanionError, PassphraseError
from companion.events import Word
from companion.listen.requests import understand_request
from companion.practice.model import Practice, find, load_all
from companion.practice.records import RunRecord, finish_run, start_run
from companion.store import crypto
from companion.store.database import Store
from companion.understand.control import split_trailing_command
from companion.understand.crisis import crisis_note_enabled, crisis_note_for
from companion.understand.intents import Request

SKILL_ID = "skill-companion.companion"
SOURCE = "ovos"  # the `engine` of what the skill keeps
SHORT_PRACTICE = "allow-rest"  # when asked which practice, quiet is a short one (as `companion ground`)
INTENTS = ("practice", "ripple", "checkin", "reflect", "review", "session")


def answer_words(text: str) -> tuple[str, str | None]:
    """(the words of an answer to keep, "next", "skip" or "done" when it was said as a command of its own)."""
    words = [Word(w, 0.0, 0.0, 1.0) for w in text.split()]
    kept, command = split_trailing_command(words)
    return " ".join(w.word for w in kept).strip(), command


class CompanionSkill(OVOSSkill):
    """Practices, ripples, check-ins, a reflection, the digest and sessions, spoken to OpenVoiceOS."""

    def __init__(self, *args, **kwargs) -> None:
        self._stopped = threading.Event()
        self._busy = threading.Event()  # a practice or a reflection is under way
        self._leading: threading.Thread | None = None
        super().__init__(*args, **kwargs)

    # ---- what brings an utterance here

    @intent_handler("practice.intent")
    def handle_practice(self, message: Message) -> None:
        self._answer(message, "practice")

    @intent_handler("ripple.intent")
    def handle_ripple(self, message: Message) -> None:
        self._answer(message, "ripple")

    @intent_handler("checkin.intent")
    def handle_checkin(self, message: Message) -> None:
        self._answer(message, "checkin")

    @intent_handler("reflect.intent")
    def handle_reflect(self, message: Message) -> None:
        self._answer(message, "reflect")

    @intent_handler("review.intent")
    def handle_review(self, message: Message) -> None:
        self._answer(message, "review")

    @intent_handler("session.intent")
    def handle_session(self, message: Message) -> None:
        self._answer(message, "session")

    def _answer(self, message: Message, routed: str) -> None:
        """What the person said, read by Companion's intent layer and done; its word is the last one."""
        request = understand_request(message.data.get("utterance", ""))
        if request.intent != routed:
            self.log.debug(f"{routed} intent, understood as {request.intent}")
        said = reply_for(request)  # unknown, cancel, and the crisis note whatever was asked
        if said:
            self.speak(said)
        if request.intent == "stop":
            self.stop()
        elif request.intent in INTENTS:
            getattr(self, f"_{request.intent}")(request, message)

    # ---- the person's database

    def _open(self) -> Store | None:
        """The database, or None after a calm line when it cannot be used (locked: no passphrase here)."""
        try:
            if crypto.is_enabled() and crypto.given_passphrase() is None:
                raise PassphraseError("the data is encrypted and the assistant has no passphrase")
            return Store.open()
        except PassphraseError as e:
            self.log.warning(f"Companion's data is locked: {e}")
            self.speak_dialog("locked")
        except CompanionError as e:
            self.log.error(f"Companion's data cannot be used: {e}")
            self.speak_dialog("unavailable")
        return None

    def _ask(self, dialog: str, data: dict | None = None) -> str | None:
        """The answer to one question, or None when nothing was said or it was taken back."""
        answer = self.get_response(dialog, data=data, num_retries=0)
        if not answer or not answer.strip() or understand_request(answer).intent in ("cancel", "stop"):
            return None
        return answer.strip()

    # ---- what each request does

    def _ripple(self, request: Request, message: Message) -> None:
        self._keep(request, keep_ripple, "ask.ripple")

    def _checkin(self, request: Request, message: Message) -> None:
        self._keep(request, keep_checkin, "ask.checkin")

    def _keep(self, request: Request, keep, ask: str) -> None:
        store = self._open()
        if store is None:
            return
        with store:
            text = request.text or self._ask(ask)
            if text is None:
                self.speak_dialog("nothing.kept")
                return
            self.speak(keep(store, text, source=SOURCE).text)

    def _session(self, request: Request, message: Message) -> None:
        store = self._open()
        if store is not None:
            with store:
                self.speak(note_session(store).text)

    def _review(self, request: Request, message: Message) -> None:
        store = self._open()
        if store is not None:
            with store:
                self.speak(since_session(store, request.kind).text)

    def _reflect(self, request: Request, message: Message) -> None:
        """The questions one at a time, each answer an entry of one reflection; "skip" passes one,
        "I'm done" (or stop) ends it, and what was said so far is kept."""
        store = self._open()
        if store is None:
            return
        try:
            questions = reflection_questions(config.load())
        except CompanionError:
            questions = reflection_questions(config.Settings())
        self._stopped.clear()
        self._busy.set()
        answers: list[tuple[str, str]] = []
        try:
            with store:
                self.speak_dialog("reflection.opening", wait=True)
                for question in questions:
                    if self._stopped.is_set():
                        break
                    self.speak(question, wait=True)
                    heard = self.get_response(num_retries=0) or ""
                    words, command = answer_words(heard)
                    answers.append((question, words))
                    if command == "done" or understand_request(heard).intent == "stop":
                        break
                self.speak(keep_reflection(store, answers, SOURCE).text)
                notes = [note for _, words in answers if (note := crisis_note_for(words, crisis_note_enabled()))]
                if notes:  # after saving, never instead of it, as `companion reflect`
                    self.speak(notes[0])
        finally:
            self._busy.clear()

    def _practice(self, request: Request, message: Message) -> None:
        practice, minutes = chosen_practice(request), request.minutes
        if practice is None:
            practices, _ = load_all()
            names = ", ".join(p.title.lower() for p in practices.values())
            said: list[str] = []  # what was said, even a "never mind" that get_response turns into None
            event = f"{self.skill_id}.converse.get_response"
            remember = lambda answer: said.extend(answer.data.get("utterances", [])[:1])  # noqa: E731
            self.bus.on(event, remember)
            try:
                heard = self.get_response("ask.practice", data={"names": names}, num_retries=0) or "".join(said[:1])
            finally:
                self.bus.remove(event, remember)
            if heard:
                answer = understand_request(heard)
                if answer.intent != "practice":
                    self.speak(reply_for(answer) or reply_for(Request("cancel")))
                    return
                practice, minutes = chosen_practice(answer), answer.minutes or minutes
            practice = practice or find(SHORT_PRACTICE)
        self._begin(fitted(practice, minutes), message)

    def _begin(self, practice: Practice, message: Message) -> None:
        """Lead `practice` in a thread of its own, so "stop" is heard while it runs."""
        self.stop()
        if self._leading is not None:
            self._leading.join(timeout=5)
        self._stopped.clear()
        self._busy.set()
        self.speak_dialog("practice.start", {"title": practice.title, "length": length_said(practice)})
        self._leading = threading.Thread(target=self._lead, args=(practice, message), daemon=True,
                                          name=f"companion-practice-{practice.name}")
        self._leading.start()

    def _lead(self, practice: Practice, message: Message) -> None:
        """Say each cue at its time (`message` keeps the assistant's session for every `speak`) and keep
        the run, as `companion ground` keeps its runs."""
        record = RunRecord(practice.name, practice.title, "voice", SOURCE)
        try:
            store = Store.open() if not crypto.is_enabled() or crypto.given_passphrase() else None
        except CompanionError as e:
            self.log.warning(f"the practice is not kept: {e}")
            store = None
        try:
            run_id = start_run(store, record) if store else None
            result = run(schedule(practice), lambda words: self.speak(words), self._stopped)
            if result.lateness:
                self.log.info(f"practice {practice.name}: cues late by {max(result.lateness) * 1000:.0f} ms at most")
            if store and run_id is not None:
                finish_run(store, run_id, record, result.finished, result.seconds)
            if not result.finished:
                self.speak_dialog("practice.stopped")
        finally:
            self._busy.clear()
            if store:
                store.close()

    # ---- stop

    def can_stop(self, message: Message) -> bool:
        return self._busy.is_set()

    def stop(self) -> bool:
        """End the practice or the reflection under way (what was said so far is kept)."""
        was_busy = self._busy.is_set()
        self._stopped.set()
        return was_busy

    def shutdown(self) -> None:
        self._stopped.set()
