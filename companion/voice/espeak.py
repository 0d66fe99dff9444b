"""Companion's voice: pyttsx3 renders each phrase to WAV once (cached); the speaker plays it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from companion.errors import CompanionError, StorageError
from companion.paths import data_dir, ensure_private_dir

RENDER_ATTEMPTS = 3


@dataclass
class VoiceSettings:
    voice: str = "en-us"  # a pyttsx3 voice id, or a language such as en-us / en-gb
    rate: int = 140  # words per minute: calm and unhurried
    volume: float = 0.9


class Voice:
    """Renders phrases to audio with pyttsx3 (espeak-ng on Linux), caching each rendered phrase."""

    def __init__(self, settings: VoiceSettings | None = None, cache_dir: Path | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self.cache_dir = cache_dir or data_dir() / "cache" / "voice"
        self._engine = None
        self._voice_id: str | None = None

    def _tts(self):
        if self._engine is None:
            import pyttsx3

            try:
                self._engine = pyttsx3.init()
            except Exception as e:
                raise CompanionError(f"the speech voice could not start: {e}", "install espeak-ng (scripts/setup.sh does)") from None
            self._voice_id = self._pick_voice(self._engine)
            self._engine.setProperty("voice", self._voice_id)
            self._engine.setProperty("rate", self.settings.rate)
            self._engine.setProperty("volume", self.settings.volume)
        return self._engine

    def _pick_voice(self, engine) -> str:
        """The voice named by the settings: an id ("gmw/en-us"), its last part ("en-us"), a language
        code, or a voice's whole name ("English (Great Britain)"), ignoring case."""
        wanted = self.settings.voice.strip().lower()
        voices = engine.getProperty("voices")
        for match in (
            lambda v: v.id.lower() == wanted,
            lambda v: v.id.lower().rsplit("/", 1)[-1] == wanted,
            lambda v: wanted in [str(lang).lower() for lang in (v.languages or [])],
            lambda v: _plain(v.name) == _plain(wanted),
        ):
            found = [v for v in voices if match(v)]
            if found:
                self._voice_info = found[0]
                return found[0].id
        english = ", ".join(_short_id(v) for v in voices if _is_english(v))
        raise CompanionError(f"there is no voice called '{self.settings.voice}'",
                             f"choose one with --voice, for example {english or 'en-us'}")

    def language_note(self) -> str | None:
        """A note when the chosen voice is not an English one (Companion's words are English)."""
        self._tts()
        info = getattr(self, "_voice_info", None)
        if info is None or _is_english(info):
            return None
        return (f"the voice '{self.settings.voice}' is espeak-ng's {info.name.replace('_', ' ')} voice, not an English one, "
                "so Companion's words may be hard to follow; --voice en-us or en-gb is English")

    def voices(self) -> list[tuple[str, str]]:
        return [(v.id, v.name) for v in self._tts().getProperty("voices")]

    def _render_once(self, text: str, out: Path) -> None:
        """One pyttsx3 save_to_file run. Its espeak driver loop occasionally ends before the
        synthesis has started (a race inside pyttsx3 2.99), leaving no file: the caller retries."""
        engine = self._tts()
        failures: list[BaseException] = []  # pyttsx3 reports write errors from a ctypes callback
        saved_hook = sys.unraisablehook
        sys.unraisablehook = lambda unraisable: failures.append(unraisable.exc_value)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to ..."
                engine.save_to_file(text, str(out))
                engine.runAndWait()
        finally:
            sys.unraisablehook = saved_hook
        if failures:
            out.unlink(missing_ok=True)
            reason = str(failures[0])
            if "No space left" in reason or "Errno 28" in reason or "File too large" in reason:
                raise StorageError("the disk is full, so the voice could not speak", "free some space; nothing stored earlier is lost")
            raise CompanionError(f"the voice could not render '{text[:40]}' ({reason})", "run `companion doctor` to check the voice")

    def _cache_path(self, text: str) -> Path:
        s = self.settings
        key = hashlib.sha256(f"{s.voice}|{s.rate}|{s.volume}|{text}".encode()).hexdigest()[:24]
        return self.cache_dir / f"{key}.wav"

    def render(self, text: str) -> tuple[np.ndarray, int]:
        """The phrase as float32 mono samples and their rate; rendered once, then read from the cache."""
        path = self._cache_path(text)
        if not path.exists():
            ensure_private_dir(self.cache_dir)
            partial = path.with_suffix(".tmp.wav")
            for _attempt in range(RENDER_ATTEMPTS):
                self._render_once(text, partial)
                if partial.exists() and partial.stat().st_size > 44:
                    break
            else:
                raise CompanionError(f"the voice could not render '{text[:40]}'", "run `companion doctor` to check the voice")
            os.replace(partial, path)
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
        return samples.mean(axis=1), rate


def _plain(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("(", " ").replace(")", " ").lower().split())


def _short_id(voice) -> str:
    return voice.id.rsplit("/", 1)[-1]


def _is_english(voice) -> bool:
    languages = [str(lang).lower() for lang in (voice.languages or [])]
    return any(lang == "en" or lang.startswith("en-") for lang in languages) or _short_id(voice).lower().startswith("en")
