"""What one transcript from Home Assistant means, given what its conversation was in the middle of.

Pure: no store, no sockets. `decide` turns (what was said, the conversation's state) into a `Decision`
(what to keep, what to say, the state that follows); `Conversations` holds each conversation's state by
its id and lets stale ones go after some minutes, handing back any reflection answers to keep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from companion.assistants.actions import ASK_CHECKIN, ASK_RIPPLE, REFLECTION_OPENING
from companion.textnorm import normalize_words
from companion.understand.intents import Request, kind_reply

SKIP = {("skip",), ("next",), ("pass",), ("skip", "it"), ("skip", "this", "one"), ("next", "question")}
"""Said instead of an answer: the question is left without one."""
STOPPED_REFLECTION = "Okay, we can stop here. What you said is kept."
STOPPED_EMPTY = "Okay, we can stop here. Nothing was kept, and that's okay."
ASK_AGAIN = "Take your time. "


@dataclass(frozen=True)
class Reflection:
    """A reflection under way: its questions and the answers so far."""

    questions: tuple[str, ...]
    answers: tuple[tuple[str, str], ...] = ()

    @property
    def question(self) -> str:
        return self.questions[len(self.answers)]


@dataclass(frozen=True)
class Awaiting:
    """A ripple or a check-in asked for without its words ("I noticed something"): the next words are it."""

    kind: str  # "ripple" or "checkin"


State = Reflection | Awaiting | None


@dataclass(frozen=True)
class Decision:
    """What to do for one transcript: an effect (see below), what to say, and the state that follows.

    effect: "say" (only `say`), "ripple" or "checkin" (keep `words`), "session", "review" (of `kind`),
    "practice" (the request's), "reflection" (keep `answers`, then say `say`, or the closing when empty).
    """

    effect: str
    say: str = ""
    words: str = ""
    request: Request = field(default_factory=Request)
    answers: tuple[tuple[str, str], ...] = ()
    state: State = None
    crisis: bool = False  # the answers hold words that call for the crisis note, said after keeping them


def decide(text: str, state: State, questions: list[str], understand: Callable[[str], Request],
           crisis: Callable[[str], bool] = lambda _: False) -> Decision:
    """What `text` asks for in a conversation in `state`; `crisis` tells whether words call for the
    crisis note (a reflection then ends there, what was said kept)."""
    if isinstance(state, Reflection):
        return _reflection_turn(text, state, understand, crisis)
    if isinstance(state, Awaiting):
        request = understand(text)
        if request.intent in ("stop", "cancel"):
            return Decision("say", kind_reply(Request("cancel")))
        words = request.text if request.intent == state.kind and request.text else text.strip()
        return Decision(state.kind, words=words)
    return _request_turn(understand(text), questions)


def _request_turn(request: Request, questions: list[str]) -> Decision:
    said = kind_reply(request)
    if said or request.intent == "stop":
        return Decision("say", said or kind_reply(Request("cancel")), request=request)
    if request.intent in ("ripple", "checkin"):
        if request.text:
            return Decision(request.intent, words=request.text, request=request)
        return Decision("say", ASK_RIPPLE if request.intent == "ripple" else ASK_CHECKIN, request=request,
                        state=Awaiting(request.intent))
    if request.intent == "reflect":
        if not questions:
            return Decision("say", kind_reply(Request()), request=request)
        reflection = Reflection(tuple(questions))
        return Decision("say", f"{REFLECTION_OPENING} {reflection.question}", request=request, state=reflection)
    return Decision(request.intent, request=request)  # session, review, practice


def _reflection_turn(text: str, state: Reflection, understand: Callable[[str], Request],
                     crisis: Callable[[str], bool]) -> Decision:
    words = normalize_words(text)
    if not words:
        return Decision("say", ASK_AGAIN + state.question, state=state)
    if understand(text).intent == "stop":
        return Decision("reflection", STOPPED_REFLECTION if state.answers else STOPPED_EMPTY, answers=state.answers)
    answer = "" if tuple(words) in SKIP else text.strip()
    reflection = Reflection(state.questions, (*state.answers, (state.question, answer)))
    if crisis(answer):
        return Decision("reflection", answers=reflection.answers, crisis=True)
    if len(reflection.answers) == len(reflection.questions):
        return Decision("reflection", answers=reflection.answers)
    return Decision("say", reflection.question, state=reflection)


class Conversations:
    """Each conversation's state by its id, forgotten `minutes` after its last turn."""

    def __init__(self, minutes: float = 10.0, clock: Callable[[], float] = time.monotonic, limit: int = 200) -> None:
        self.seconds, self.clock, self.limit = minutes * 60, clock, limit
        self._held: dict[str, tuple[float, State]] = {}

    def get(self, key: str) -> State:
        held = self._held.get(key)
        return held[1] if held and self.clock() - held[0] < self.seconds else None

    def put(self, key: str, state: State) -> None:
        self._held.pop(key, None)
        if state is not None:
            self._held[key] = (self.clock(), state)

    def stale(self) -> list[State]:
        """The states of conversations left quiet too long (or beyond the `limit`), now forgotten."""
        now = self.clock()
        gone = [k for k, (at, _) in self._held.items() if now - at >= self.seconds]
        gone += [k for k in list(self._held)[: max(0, len(self._held) - self.limit)] if k not in gone]
        return [self._held.pop(k)[1] for k in gone]

    def all(self) -> list[State]:
        """Every state held, now forgotten (when the server stops)."""
        states = [state for _, state in self._held.values()]
        self._held.clear()
        return states
