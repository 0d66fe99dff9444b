"""Settings from the config file (TOML), overridden by command-line options.

A mistake in the file never stops a command over a setting it does not use: an unknown section or
setting is a note naming it and the known ones, and a bad value is kept aside (the default is used)
until a command that uses that setting asks for it (`Settings.check`). Grounding in a hard moment
must not fail over a typo in the reflection's settings.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from companion.errors import CompanionError
from companion.paths import config_file

DEFAULT_PROMPTS = [
    "What felt important today?",
    "What sensations or emotions are still with me?",
    "What do I want to notice in the coming days?",
]


@dataclass
class Settings:
    engine: str | None = None  # "vosk", "whisper" or None (choose automatically)
    model: str | None = None  # a path to a model folder
    final_model: str = "whisper-base"  # or "same": the model of an answer's final text and of imports
    input_device: str | None = None
    output_device: str | None = None
    voice: str = "joe"  # a Piper voice, or an espeak-ng one ("espeak:en-gb")
    rate: int = 140
    volume: float = 0.9
    silence: float = 4.0  # seconds of quiet that end an answer
    wait: float = 15.0  # seconds to wait for the first words before moving on
    prompts: list[str] = field(default_factory=lambda: list(DEFAULT_PROMPTS))
    name: str = "companion"  # the wake name `companion listen` waits for
    notes: list[str] = field(default_factory=list)  # unknown sections and settings, said once
    problems: dict[str, CompanionError] = field(default_factory=dict)  # setting -> why its value is unusable
    given: set[str] = field(default_factory=set)  # settings set by the file or the command line, not defaults

    def check(self, *keys: str) -> Settings:
        """Raise the problem of the first of `keys` (all settings if none) whose value is unusable."""
        for key in keys or tuple(self.problems):
            if key in self.problems:
                raise self.problems[key]
        return self


SECTIONS = {
    "speech": {"engine": str, "model": str, "final_model": str},
    "audio": {"input_device": str, "output_device": str},
    "voice": {"voice": str, "rate": int, "volume": float},
    "reflect": {"silence": float, "wait": float, "prompts": list},
    "listen": {"name": str},
}
SPEAKING = ("engine", "model", "input_device", "output_device", "voice", "rate", "volume")
"""The settings every spoken command uses (engine, devices, voice)."""
LISTENING = (*SPEAKING, "final_model", "silence", "wait")
"""...and those of a command that records an answer."""
ALL = tuple(key for keys in SECTIONS.values() for key in keys)

_KIND_NAMES = {str: "text in quotes", int: "whole number", float: "number", list: "list of texts in quotes"}
_RANGES = {"rate": (60, 300), "volume": (0, 1), "silence": (1, 60), "wait": (1, 600)}  # as the command-line options
_CHOICES = {"engine": ("vosk", "whisper"), "final_model": ("same", "whisper-base")}


def load(path: Path | None = None) -> Settings:
    """Read the config file if there is one. A file that cannot be read or parsed is an error;
    inside it, unknown names become `notes` and bad values `problems` (see the module docstring)."""
    path = path or config_file()
    settings = Settings()
    if not path.exists():
        return settings
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CompanionError(f"the config file {path} cannot be read: {e.strerror or e}", "check it is a file you can read, or remove it") from None
    except UnicodeDecodeError as e:
        raise CompanionError(f"the config file {path} is not UTF-8 text (the byte 0x{e.object[e.start]:02x} at position {e.start})",
                             "save it as UTF-8 (TOML files are UTF-8), or remove it") from None
    except tomllib.TOMLDecodeError as e:
        raise CompanionError(f"the config file {path} is not valid TOML: {e}", "fix or remove it; README.md shows an example") from None
    for section, values in data.items():
        known = SECTIONS.get(section)
        if known is None or not isinstance(values, dict):
            settings.notes.append(f"the section [{section}] in {path} is not one Companion knows, so it is left out "
                                  f"(known sections: {', '.join(SECTIONS)})")
            continue
        for key, value in values.items():
            kind = known.get(key)
            if kind is None:
                close = difflib.get_close_matches(key, list(ALL), n=1)
                guess = f"; did you mean '{close[0]}'?" if close else ""
                settings.notes.append(f"the setting '{key}' in [{section}] of {path} is not one Companion knows, so it "
                                      f"is left out (known in [{section}]: {', '.join(known)}{guess})")
                continue
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            try:
                _check_value(key, kind, value, section, path)
            except CompanionError as e:
                settings.problems[key] = e
                continue
            setattr(settings, key, value)
            settings.given.add(key)
    return settings


def names_a_word(text: str) -> bool:
    """Whether `text` holds a word to listen for (the wake name)."""
    return any(c.isalpha() for c in text)


def _check_value(key: str, kind: type, value, section: str, path: Path) -> None:
    """A value that is not usable: of the wrong type, out of range, an unknown choice, empty."""
    where = f"'{key}' in [{section}] of {path}"
    if (not isinstance(value, kind) or isinstance(value, bool)
            or (kind is list and not all(isinstance(p, str) for p in value))):
        raise CompanionError(f"{where} should be a {_KIND_NAMES[kind]}", "see README.md for an example")
    if key in _RANGES:
        low, high = _RANGES[key]
        if not low <= value <= high:
            raise CompanionError(f"{where} is {value:g}, outside {low} to {high}", f"set a value from {low} to {high}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise CompanionError(f"{where} is '{value}', not one of {', '.join(_CHOICES[key])}", f"use {' or '.join(_CHOICES[key])}, or leave it out")
    if key == "name" and not names_a_word(value):
        raise CompanionError(f"{where} holds no word", 'give the name to wait for, e.g. name = "Companion"')
    if key == "prompts" and not [p for p in value if p.strip()]:
        raise CompanionError(f"{where} holds no question", "give at least one question, or leave prompts out for the usual ones")


def merged(settings: Settings, **overrides) -> Settings:
    """Settings with every option that was given on the command line applied (a given option
    also sets aside a problem with the same setting in the file)."""
    for key, value in overrides.items():
        if value is not None and value != ():
            setattr(settings, key, list(value) if isinstance(value, tuple) else value)
            settings.given.add(key)
            settings.problems.pop(key, None)
    return settings
