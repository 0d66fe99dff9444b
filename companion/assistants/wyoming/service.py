"""Companion's answers to Home Assistant's transcripts: each decided by the turn logic (turns.py), its
effect carried out with the effects every assistant shares, on the same store as everything else.
Nothing here touches the network; server.py speaks Wyoming."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from companion.assistants.actions import (
    NOTHING_HEARD, guided_words, keep_checkin, keep_reflection, keep_ripple, note_session, practice_or_default, since_session,
)
from companion.assistants.wyoming.turns import Conversations, Decision, Reflection, decide
from companion.errors import CompanionError
from companion.listen.requests import understand_request
from companion.store.database import Store
from companion.understand.crisis import CRISIS_NOTE, crisis_note_enabled, crisis_note_for
from companion.understand.intents import Request

SOURCE = "wyoming"
"""The engine of every entry kept from Home Assistant: its own speech recognition did the hearing."""
CANNOT_KEEP = "I can't reach your Companion journal just now, so nothing was kept. Companion on your computer shows why."
CANNOT_PRACTISE = "That practice can't be read just now. On your computer, companion practices says why."
TROUBLE = "Something went wrong on Companion's side, and I'm sorry. Companion on your computer shows what happened."
TIMED = "On your computer, companion ground {name} leads it with timed breaths."


class Companion:
    """Answers one transcript at a time (a lock keeps turns in order), keeping each conversation's
    state by its id; a reflection left quiet too long, or still open when the server stops, is kept
    as far as it went."""

    def __init__(self, questions: list[str], open_store: Callable[[], AbstractContextManager[Store]] = Store.open,
                 understand: Callable[[str], Request] = understand_request, minutes: float = 10.0,
                 note: Callable[[str], None] = lambda _: None, clock: Callable[[], float] | None = None) -> None:
        self.questions, self.open_store, self.understand, self.note = list(questions), open_store, understand, note
        self.conversations = Conversations(minutes, clock) if clock else Conversations(minutes)
        self._lock = threading.Lock()

    def answer(self, text: str, key: str) -> str:
        """What to say back to `text`, said in the conversation `key`."""
        with self._lock:
            self._keep_unfinished(self.conversations.stale())
            state = self.conversations.get(key)
            decision = decide(text, state, self.questions, self.understand, self._calls_for_crisis_note)
            try:
                reply = self._carry_out(decision)
            except CompanionError as e:
                self.note(f"could not keep what Home Assistant sent: {e.message}")
                return CANNOT_KEEP  # the conversation stays where it was: saying it again can work
            self.conversations.put(key, decision.state)
            return reply

    def close(self) -> None:
        """Keep the reflections still under way (the server is stopping)."""
        with self._lock:
            self._keep_unfinished(self.conversations.all())

    def _carry_out(self, decision: Decision) -> str:
        effect, request = decision.effect, decision.request
        if effect == "say":
            return decision.say
        if effect == "practice":
            return self._practice(request)
        if effect == "reflection" and not any(answer for _, answer in decision.answers):
            return decision.say or NOTHING_HEARD  # nothing to keep: no store needed
        with self.open_store() as store:
            if effect == "ripple":
                return keep_ripple(store, decision.words, SOURCE).text
            if effect == "checkin":
                return keep_checkin(store, decision.words, SOURCE).text
            if effect == "session":
                return note_session(store).text
            if effect == "review":
                return since_session(store, request.kind).text
            kept = keep_reflection(store, list(decision.answers), SOURCE)
        return CRISIS_NOTE if decision.crisis else decision.say or kept.text

    def _practice(self, request: Request) -> str:
        try:
            practice = practice_or_default(request)
            words = guided_words(practice, request.minutes)
        except CompanionError as e:
            self.note(f"a practice could not be read: {e.message}")
            return CANNOT_PRACTISE
        return " ".join([*words, TIMED.format(name=practice.name)])

    def _keep_unfinished(self, states: list) -> None:
        answers = [s.answers for s in states if isinstance(s, Reflection) and any(a for _, a in s.answers)]
        if not answers:
            return
        try:
            with self.open_store() as store:
                for sitting in answers:
                    keep_reflection(store, list(sitting), SOURCE)
        except CompanionError as e:
            self.note(f"a reflection left unfinished could not be kept: {e.message}")

    @staticmethod
    def _calls_for_crisis_note(words: str) -> bool:
        return crisis_note_for(words, crisis_note_enabled()) is not None
