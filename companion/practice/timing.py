"""Pure practice timing: which cues sound when within a breath, pace changes, and fitting a duration.

No audio and no clocks here: the runner turns these offsets into frames on the output clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from companion.errors import CompanionError
from companion.practice.model import (
    MAX_PACE,
    MIN_PACE,
    Breathe,
    Pause,
    Phase,
    Practice,
    Say,
)

MODES = ("both", "voice", "tones")  # voice and tones, voice only, tones only
DEFAULT_WORDS = {"inhale": "Breathe in", "hold": "Hold", "exhale": "And out"}
PACE_STEP = 1.0  # seconds added to or taken from one phase by "slower" / "faster"
SHORTEST_CYCLE = 60.0 / MAX_PACE  # 10 breaths a minute
LONGEST_CYCLE = 60.0 / MIN_PACE  # 4 breaths a minute
MIN_INHALE = 2.0
SPEECH_WPM = 140  # for estimating how long a spoken line takes
GAP_AFTER_SAY = 0.8  # quiet after a spoken line before what follows
SHORTEST_MINUTES, LONGEST_MINUTES = 0.5, 60.0  # the lengths a practice may be asked for


@dataclass(frozen=True)
class Cue:
    offset: float  # seconds from the start of the breath
    kind: str  # "tone" or "voice"
    sound: str  # tone: "inhale" / "exhale"; voice: the words
    phase: int  # index of the phase it belongs to


def phase_offsets(breathe: Breathe) -> list[float]:
    """Start of each phase, in seconds from the start of the breath."""
    offsets, t = [], 0.0
    for phase in breathe.phases:
        offsets.append(t)
        t += phase.seconds
    return offsets


def breath_cues(breathe: Breathe, cycle: int, mode: str, voice_cycles: int) -> list[Cue]:
    """The cues of one breath. Tones mark inhales and exhales; holds are quiet. With both voice and
    tones, the words guide the first `voice_cycles` breaths and the tones carry on alone."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    cues: list[Cue] = []
    for index, (phase, offset) in enumerate(zip(breathe.phases, phase_offsets(breathe))):
        if mode in ("both", "tones") and phase.tone and phase.kind != "hold":
            cues.append(Cue(offset, "tone", phase.kind, index))
        speak = mode == "voice" or (mode == "both" and cycle < voice_cycles)
        if speak:
            cues.append(Cue(offset, "voice", phase.say or DEFAULT_WORDS[phase.kind], index))
    return cues


def bpm(breathe: Breathe) -> float:
    return 60.0 / breathe.cycle_seconds


def _with_seconds(breathe: Breathe, index: int, seconds: float) -> Breathe:
    phases = list(breathe.phases)
    phases[index] = replace(phases[index], seconds=round(seconds, 3))
    return replace(breathe, phases=tuple(phases))


def _last(breathe: Breathe, kind: str) -> int:
    return max(i for i, p in enumerate(breathe.phases) if p.kind == kind)


def slower(breathe: Breathe) -> Breathe | None:
    """One step slower: the exhale grows first (up to twice the inhale), then the inhale.
    None when that would go below 4 breaths a minute."""
    out, inhale = _last(breathe, "exhale"), _last(breathe, "inhale")
    if breathe.phases[out].seconds < 2 * breathe.phases[inhale].seconds:
        changed = _with_seconds(breathe, out, breathe.phases[out].seconds + PACE_STEP)
    else:
        changed = _with_seconds(breathe, inhale, breathe.phases[inhale].seconds + PACE_STEP)
    return changed if changed.cycle_seconds <= LONGEST_CYCLE + 1e-9 else None


def faster(breathe: Breathe) -> Breathe | None:
    """One step faster: the exhale shortens first (never below the inhale), then holds, then the
    inhale. None when that would go above 10 breaths a minute."""
    out, inhale = _last(breathe, "exhale"), _last(breathe, "inhale")
    holds = [i for i, p in enumerate(breathe.phases) if p.kind == "hold" and p.seconds > 1.0]
    if breathe.phases[out].seconds - PACE_STEP >= breathe.phases[inhale].seconds:
        changed = _with_seconds(breathe, out, breathe.phases[out].seconds - PACE_STEP)
    elif holds:
        changed = breathe
        for i in holds:
            changed = _with_seconds(changed, i, max(1.0, breathe.phases[i].seconds - PACE_STEP))
    elif breathe.phases[inhale].seconds - PACE_STEP >= MIN_INHALE:
        changed = _with_seconds(breathe, inhale, breathe.phases[inhale].seconds - PACE_STEP)
    else:
        return None
    return changed if changed.cycle_seconds >= SHORTEST_CYCLE - 1e-9 else None


def say_seconds(text: str, wpm: int = SPEECH_WPM) -> float:
    """About how long a spoken line lasts, with the quiet after it."""
    return len(text.split()) * 60.0 / wpm + GAP_AFTER_SAY


def practice_seconds(practice: Practice) -> float:
    """About how long the whole practice takes."""
    total = 0.0
    for step in practice.steps:
        if isinstance(step, Say):
            total += say_seconds(step.text)
        elif isinstance(step, Pause):
            total += step.seconds
        else:
            total += step.cycles * step.cycle_seconds
    return total


def cycles_for_minutes(practice: Practice, minutes: float) -> list[int]:
    """Cycles for each breathing step so the practice lasts about `minutes` (at least one each),
    shared in proportion to the practice's own defaults."""
    breathing = practice.breathing
    fixed = practice_seconds(practice) - sum(b.cycles * b.cycle_seconds for b in breathing)
    available = max(0.0, minutes * 60.0 - fixed)
    weights = [b.cycles * b.cycle_seconds for b in breathing]
    total = sum(weights) or 1.0
    return [max(1, round(available * w / total / b.cycle_seconds)) for w, b in zip(weights, breathing)]


def first_gap(busy: list[tuple[int, int]], earliest: int, length: int, latest: int, margin: int) -> int | None:
    """The first start, at or after `earliest`, where a sound of `length` frames fits between the
    `busy` (start, end) spans with `margin` frames of quiet either side, and ends `margin` before
    `latest`; None if it does not fit. (For acknowledging a command in the next quiet moment.)"""
    start = earliest
    for begin, end in sorted(busy):
        if end + margin <= start:
            continue  # over before then
        if start + length + margin <= begin:
            break  # fits before this one
        start = max(start, end + margin)
    return start if start + length + margin <= latest else None


PHASE_WORDS = {"inhale": "Breathing in", "hold": "Holding", "exhale": "Breathing out"}


def phase_status(phase: Phase, cycle: int, cycles: int) -> str:
    """The breath under way, as the terminal shows it: "Breathing in · breath 2 of 6"."""
    return f"{PHASE_WORDS[phase.kind]} · breath {cycle + 1} of {cycles}"


def spoken_length(seconds: float) -> str:
    """A practice's length as it is said: "half a minute", "a minute", "two minutes", "15 minutes"."""
    halves = max(1, round(seconds / 30))
    minutes, half = divmod(halves, 2)
    numbers = ["", "a", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    if minutes == 0:
        return "half a minute"
    count = numbers[minutes] if minutes < len(numbers) else str(minutes)
    if half and minutes < 5:
        return f"{count} minute{'s' if minutes > 1 else ''} and a half"
    return "a minute" if minutes == 1 else f"{count} minutes"


LENGTH = "{length}"
"""In a practice's spoken lines, the length it will really last ("For {length}, there is nothing...")."""


def with_spoken_length(practice: Practice) -> Practice:
    """The practice with LENGTH in its lines replaced by how long it lasts as set (--minutes, --cycles)."""
    if not any(isinstance(s, Say) and LENGTH in s.text for s in practice.steps):
        return practice
    said = spoken_length(practice_seconds(practice))
    steps = tuple(Say(s.text.replace(LENGTH, said)) if isinstance(s, Say) else s for s in practice.steps)
    return replace(practice, steps=steps)


def with_minutes(practice: Practice, minutes: float) -> Practice:
    """Breathing steps given as many cycles as fit, so the whole practice lasts about `minutes`."""
    if not SHORTEST_MINUTES <= minutes <= LONGEST_MINUTES:
        raise CompanionError(f"{minutes:g} minutes is outside {SHORTEST_MINUTES:g} to {LONGEST_MINUTES:g}", "try --minutes 3")
    counts = cycles_for_minutes(practice, minutes)
    it = iter(counts)
    return replace(practice, steps=tuple(replace(s, cycles=next(it)) if isinstance(s, Breathe) else s for s in practice.steps))
