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


def load(path: Path | None = None) -> Settings:
    """Read the config file if there is one; unknown keys are an error that names them."""
    path = path or config_file()
    settings = Settings()
    if not path.exists():
        return settings
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CompanionError(f"the config file {path} cannot be read: {e}", "fix or remove it") from None
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
            if not isinstance(value, kind) or (kind is list and not all(isinstance(p, str) for p in value)):
                raise CompanionError(f"'{key}' in [{section}] of {path} should be a {kind.__name__}", "see README.md")
            setattr(settings, key, value)
    return settings


def merged(settings: Settings, **overrides) -> Settings:
    """Settings with every option that was given on the command line applied."""
    for key, value in overrides.items():
        if value is not None and value != ():
            setattr(settings, key, list(value) if isinstance(value, tuple) else value)
    return settings
