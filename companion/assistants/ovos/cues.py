"""A practice led through another assistant's voice: each spoken line and breath cue at its time on
Companion's own schedule (companion/practice/timing.py), sent as words to speak. No tones: the
assistant has only its voice, so every phase of every breath is said ("voice" cues)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from companion.errors import CompanionError
from companion.practice.model import Breathe, Pause, Practice, Say
from companion.practice.timing import breath_cues, practice_seconds, say_seconds, spoken_length, with_minutes, with_spoken_length


@dataclass(frozen=True)
class Schedule:
    """What to say when: (seconds from the start, words), and when the practice ends."""

    cues: tuple[tuple[float, str], ...]
    seconds: float


@dataclass
class Run:
    """How a run went: finished or stopped, and how late each cue was sent (seconds)."""

    finished: bool = False
    lateness: list[float] = field(default_factory=list)
    seconds: float = 0.0


def fitted(practice: Practice, minutes: float | None) -> Practice:
    """The practice at the length asked for (its own length when none, or one it cannot last)."""
    if minutes is not None:
        try:
            practice = with_minutes(practice, minutes)
        except CompanionError:
            pass  # "for two hours": the practice's own length, said when it begins
    return with_spoken_length(practice)


def length_said(practice: Practice) -> str:
    """How long the practice lasts, as said ("two minutes")."""
    return spoken_length(practice_seconds(practice))


def schedule(practice: Practice) -> Schedule:
    """Every spoken line and breath cue of `practice`, at the offsets Companion's own runner uses."""
    cues: list[tuple[float, str]] = []
    at = 0.0
    for step in practice.steps:
        if isinstance(step, Say):
            cues.append((round(at, 3), step.text))
            at += say_seconds(step.text)
        elif isinstance(step, Pause):
            at += step.seconds
        elif isinstance(step, Breathe):
            for cycle in range(step.cycles):
                cues += [(round(at + cue.offset, 3), cue.sound) for cue in breath_cues(step, cycle, "voice", 0)]
                at += step.cycle_seconds
    return Schedule(tuple(cues), round(at, 3))


def run(plan: Schedule, speak: Callable[[str], None], stopped: threading.Event,
        clock: Callable[[], float] = time.monotonic) -> Run:
    """Say each cue at its time (waiting on `stopped`, so a stop ends the wait at once), then wait out
    the last phase. Returns how it went, with each cue's lateness for the log."""
    result = Run()
    start = clock()
    for at, words in plan.cues:
        if stopped.wait(max(0.0, start + at - clock())):
            result.seconds = clock() - start
            return result
        result.lateness.append(clock() - start - at)
        speak(words)
    result.finished = not stopped.wait(max(0.0, start + plan.seconds - clock()))
    result.seconds = clock() - start
    return result
