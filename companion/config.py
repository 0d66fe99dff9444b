"""Settings from the config file (TOML), overridden by command-line options."""

from __future__ import annotations

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
    input_device: str | None = None
    output_device: str | None = None
    voice: str = "en-us"
    rate: int = 140
    volume: float = 0.9
    silence: float = 4.0  # seconds of quiet that end an answer
    wait: float = 15.0  # seconds to wait for the first words before moving on
    prompts: list[str] = field(default_factory=lambda: list(DEFAULT_PROMPTS))


_SECTIONS = {
    "speech": {"engine": str, "model": str},
    "audio": {"input_device": str, "output_device": str},
    "voice": {"voice": str, "rate": int, "volume": float},
    "reflect": {"silence": float, "wait": float, "prompts": list},
}
_KIND_NAMES = {str: "text in quotes", int: "whole number", float: "number", list: "list of texts in quotes"}
_RANGES = {"rate": (60, 300), "volume": (0, 1), "silence": (1, 60), "wait": (1, 600)}  # as the command-line options
_CHOICES = {"engine": ("vosk", "whisper")}


def load(path: Path | None = None) -> Settings:
    """Read the config file if there is one; unknown keys are an error that names them."""
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
        known = _SECTIONS.get(section)
        if known is None or not isinstance(values, dict):
            raise CompanionError(f"unknown section [{section}] in {path}", f"known sections: {', '.join(_SECTIONS)}")
        for key, value in values.items():
            kind = known.get(key)
            if kind is None:
                raise CompanionError(f"unknown setting '{key}' in [{section}] of {path}", f"known: {', '.join(known)}")
            if kind is float and isinstance(value, int):
                value = float(value)
            if (not isinstance(value, kind) or isinstance(value, bool)
                    or (kind is list and not all(isinstance(p, str) for p in value))):
                raise CompanionError(f"'{key}' in [{section}] of {path} should be a {_KIND_NAMES[kind]}", "see README.md for an example")
            _check_value(key, value, section, path)
            setattr(settings, key, value)
    return settings


def _check_value(key: str, value, section: str, path: Path) -> None:
    """A value of the right type that is still not usable: out of range, an unknown choice, empty."""
    where = f"'{key}' in [{section}] of {path}"
    if key in _RANGES:
        low, high = _RANGES[key]
        if not low <= value <= high:
            raise CompanionError(f"{where} is {value}, outside {low} to {high}", f"set a value from {low} to {high}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise CompanionError(f"{where} is '{value}', not one of {', '.join(_CHOICES[key])}", f"use {' or '.join(_CHOICES[key])}, or leave it out")
    if key == "prompts" and not [p for p in value if p.strip()]:
        raise CompanionError(f"{where} holds no question", "give at least one question, or leave prompts out for the usual ones")


def merged(settings: Settings, **overrides) -> Settings:
    """Settings with every option that was given on the command line applied."""
    for key, value in overrides.items():
        if value is not None and value != ():
            setattr(settings, key, list(value) if isinstance(value, tuple) else value)
    return settings
