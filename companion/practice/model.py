"""Practices as data: TOML files with a name, a one-line description and steps, loaded and validated.

Built-ins ship in `companion/data/practices/`; a person's own live in `config_dir()/practices/`.
A malformed file gives an error naming the file, the field and what is wrong; the others still load.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from companion.errors import CompanionError
from companion.paths import config_dir

PHASE_KINDS = ("inhale", "hold", "exhale")
MIN_PHASE, MAX_PHASE = 0.5, 20.0  # seconds
MAX_CYCLES = 200
MAX_PAUSE = 120.0
MIN_PACE, MAX_PACE = 4.0, 10.0  # breaths a minute a person may set
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class PracticeFileError(CompanionError):
    """A practice file that cannot be used: names the file, the field and what is wrong."""

    exit_code = 6

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        self.path, self.where, self.problem = str(path), where, problem
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}",
                         "fix the file, or move it out of the practices folder")


@dataclass(frozen=True)
class Phase:
    kind: str  # "inhale", "hold" or "exhale"
    seconds: float
    say: str | None = None  # the spoken cue; None = the default word for the kind
    tone: bool = True  # a soft tone at the start of inhales and exhales


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Breathe:
    phases: tuple[Phase, ...]
    cycles: int

    @property
    def cycle_seconds(self) -> float:
        return sum(p.seconds for p in self.phases)


Step = Say | Pause | Breathe


@dataclass(frozen=True)
class Practice:
    name: str
    title: str
    description: str
    steps: tuple[Step, ...]
    spoken_names: tuple[str, ...] = ()  # what a person may say to choose it
    voice_cycles: int = 3  # breaths with spoken cues (with tones on); after that, tones only
    pace: float | None = None  # breaths a minute the breathing steps are set to, if any
    source: str = "built-in"  # "built-in" or "yours"
    path: str = ""

    @property
    def breathing(self) -> list[Breathe]:
        return [s for s in self.steps if isinstance(s, Breathe)]


def _number(value, where: str, path: Path, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PracticeFileError(path, where, f"should be a number of seconds, not {value!r}")
    if not low <= value <= high:
        raise PracticeFileError(path, where, f"should be between {low:g} and {high:g}, not {value:g}")
    return float(value)


def _text(value, where: str, path: Path, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PracticeFileError(path, where, "should be some text in quotes" if value is None or isinstance(value, str) else f"should be text, not {value!r}")
    return " ".join(value.split())


def _phase(raw, where: str, path: Path) -> Phase:
    if not isinstance(raw, dict):
        raise PracticeFileError(path, where, "should be a table such as {inhale = 4}")
    kinds = [k for k in raw if k in PHASE_KINDS]
    unknown = [k for k in raw if k not in (*PHASE_KINDS, "say", "tone")]
    if unknown:
        raise PracticeFileError(path, f"{where}.{unknown[0]}", "is not a known field (use inhale, hold, exhale, say, tone)")
    if len(kinds) != 1:
        raise PracticeFileError(path, where, "needs exactly one of inhale, hold or exhale, with seconds")
    kind = kinds[0]
    seconds = _number(raw[kind], f"{where}.{kind}", path, MIN_PHASE, MAX_PHASE)
    tone = raw.get("tone", True)
    if not isinstance(tone, bool):
        raise PracticeFileError(path, f"{where}.tone", "should be true or false")
    return Phase(kind, seconds, _text(raw.get("say"), f"{where}.say", path, required=False), tone)


def _step(raw, where: str, path: Path) -> Step:
    if not isinstance(raw, dict):
        raise PracticeFileError(path, where, "should be a [[steps]] table")
    kinds = [k for k in ("say", "pause", "breathe") if k in raw]
    if len(kinds) != 1:
        raise PracticeFileError(path, where, "needs exactly one of say, pause or breathe")
    kind = kinds[0]
    allowed = {"say": {"say"}, "pause": {"pause"}, "breathe": {"breathe", "cycles"}}[kind]
    extra = sorted(set(raw) - allowed)
    if extra:
        raise PracticeFileError(path, f"{where}.{extra[0]}", f"is not a field of a {kind} step")
    if kind == "say":
        return Say(_text(raw["say"], f"{where}.say", path))
    if kind == "pause":
        return Pause(_number(raw["pause"], f"{where}.pause", path, 0.1, MAX_PAUSE))
    phases = raw["breathe"]
    if not isinstance(phases, list) or not phases:
        raise PracticeFileError(path, f"{where}.breathe", "should be a list of phases such as [{inhale = 4}, {exhale = 6}]")
    parsed = tuple(_phase(p, f"{where}.breathe[{i}]", path) for i, p in enumerate(phases))
    if not any(p.kind == "inhale" for p in parsed) or not any(p.kind == "exhale" for p in parsed):
        raise PracticeFileError(path, f"{where}.breathe", "needs at least one inhale and one exhale")
    cycles = raw.get("cycles", 1)
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= MAX_CYCLES:
        raise PracticeFileError(path, f"{where}.cycles", f"should be a whole number from 1 to {MAX_CYCLES}, not {cycles!r}")
    return Breathe(parsed, cycles)


_TOP_FIELDS = {"name", "title", "description", "steps", "spoken_names", "voice_cycles", "pace"}


def parse_practice(text: str, path: Path | str, source: str = "built-in") -> Practice:
    """A practice from TOML text; PracticeFileError naming the file and field if it is malformed."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PracticeFileError(path, "", f"is not valid TOML ({e})") from None
    unknown = sorted(set(data) - _TOP_FIELDS)
    if unknown:
        raise PracticeFileError(path, unknown[0], f"is not a known field (known: {', '.join(sorted(_TOP_FIELDS))})")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise PracticeFileError(path, "name", "should be a short lower-case name such as \"box-breathing\" (letters, digits, -)")
    title = _text(data.get("title", name), "title", path)
    description = _text(data.get("description"), "description", path)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise PracticeFileError(path, "steps", "needs at least one [[steps]] table")
    parsed = tuple(_step(s, f"steps[{i}]", path) for i, s in enumerate(steps))
    spoken = data.get("spoken_names", [])
    if not isinstance(spoken, list) or not all(isinstance(s, str) and s.strip() for s in spoken):
        raise PracticeFileError(path, "spoken_names", "should be a list of short phrases in quotes")
    voice_cycles = data.get("voice_cycles", 3)
    if isinstance(voice_cycles, bool) or not isinstance(voice_cycles, int) or voice_cycles < 0:
        raise PracticeFileError(path, "voice_cycles", "should be a whole number, 0 or more")
    pace = data.get("pace")
    if pace is not None:
        pace = _number(pace, "pace", path, MIN_PACE, MAX_PACE)
    practice = Practice(name, title, description, parsed, tuple(spoken), voice_cycles, pace, source, str(path))
    return with_pace(practice, pace) if pace else practice


def with_pace(practice: Practice, pace: float) -> Practice:
    """The practice with every breathing step scaled to `pace` breaths a minute, keeping proportions."""
    if not MIN_PACE <= pace <= MAX_PACE:
        raise CompanionError(f"a pace of {pace:g} breaths a minute is outside {MIN_PACE:g} to {MAX_PACE:g}",
                             "6 is a gentle resonance pace")
    steps = []
    for step in practice.steps:
        if isinstance(step, Breathe):
            scale = (60.0 / pace) / step.cycle_seconds
            step = replace(step, phases=tuple(replace(p, seconds=round(p.seconds * scale, 3)) for p in step.phases))
        steps.append(step)
    return replace(practice, steps=tuple(steps), pace=pace)


def with_cycles(practice: Practice, cycles: int) -> Practice:
    """Every breathing step set to `cycles` breaths."""
    if not 1 <= cycles <= MAX_CYCLES:
        raise CompanionError(f"{cycles} cycles is outside 1 to {MAX_CYCLES}", "try --cycles 4")
    return replace(practice, steps=tuple(replace(s, cycles=cycles) if isinstance(s, Breathe) else s for s in practice.steps))


def builtin_dir():
    return resources.files("companion") / "data" / "practices"


def user_dir() -> Path:
    return config_dir() / "practices"


def load_all() -> tuple[dict[str, Practice], list[PracticeFileError]]:
    """Every practice by name (yours beside the built-ins; yours wins a name clash), and the problems."""
    found: dict[str, Practice] = {}
    problems: list[PracticeFileError] = []
    sources = [(f, "built-in") for f in sorted(builtin_dir().iterdir(), key=lambda f: f.name) if f.name.endswith(".toml")]
    if user_dir().is_dir():
        sources += [(f, "yours") for f in sorted(user_dir().glob("*.toml"))]
    for file, source in sources:
        shown = Path(str(file)) if source == "yours" else Path("built-in") / file.name
        try:
            text = file.read_text(encoding="utf-8")
            practice = parse_practice(text, shown, source)
        except PracticeFileError as e:
            problems.append(e)
            continue
        except (OSError, UnicodeDecodeError) as e:
            problems.append(PracticeFileError(shown, "", f"cannot be read ({e})"))
            continue
        found[practice.name] = practice
    return found, problems


def find(name: str) -> Practice:
    """One practice by name (or a unique beginning of one)."""
    practices, problems = load_all()
    if name in practices:
        return practices[name]
    matches = [p for n, p in practices.items() if n.startswith(name.lower())]
    if len(matches) == 1:
        return matches[0]
    broken = [e for e in problems if Path(e.path).stem == name]
    if broken:
        raise broken[0]
    raise CompanionError(f"no practice called '{name}'", "`companion practices` lists them")
