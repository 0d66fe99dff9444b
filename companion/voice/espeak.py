"""espeak-ng, through pyttsx3: the voice for every language espeak-ng speaks, and the fallback."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from companion.errors import CompanionError, StorageError
from companion.paths import ensure_private_dir
from companion.voice.base import Voice, VoiceSettings

RENDER_ATTEMPTS = 3
PREFIX = "espeak:"


class EspeakVoice(Voice):
    """espeak-ng through pyttsx3: every language espeak-ng has, robotic but always there; the
    fallback when no Piper voice can speak."""

    backend = "espeak"

    def __init__(self, settings: VoiceSettings, cache_dir: Path | None = None) -> None:
        super().__init__(settings, cache_dir)
        self.wanted = settings.voice.strip().removeprefix(PREFIX) or "en-us"
        self._engine = None
        self._voice_id: str | None = None
        self._voice_info = None

    @property
    def name(self) -> str:
        return PREFIX + self.wanted

    def describe(self) -> str:
        self._tts()
        return f"{self.name} (espeak-ng {self._voice_info.name.replace('_', ' ') if self._voice_info else ''}, through pyttsx3)"

    def check(self) -> None:
        self._tts()

    def _tts(self):
        if self._engine is None:
            import pyttsx3

            try:
                engine = pyttsx3.init()
            except Exception as e:
                raise CompanionError(f"the speech voice could not start: {e}", "install espeak-ng (scripts/setup.sh does)") from None
            self._voice_id = self._pick_voice(engine)
            engine.setProperty("voice", self._voice_id)
            engine.setProperty("rate", self.settings.rate)
            engine.setProperty("volume", 1.0)  # the volume setting is applied with the loudness
            self._engine = engine
        return self._engine

    def _pick_voice(self, engine) -> str:
        """The voice named by the settings: an id ("gmw/en-us"), its last part ("en-us"), a language
        code, or a voice's whole name ("English (Great Britain)"), ignoring case."""
        wanted = self.wanted.lower()
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
        raise CompanionError(f"there is no voice called '{self.settings.voice}'",
                             "`companion voices` lists them; for example --voice joe, or --voice espeak:en-gb")

    def language_note(self) -> str | None:
        self._tts()
        info = self._voice_info
        if info is None or _is_english(info):
            return None
        return (f"the voice '{self.settings.voice}' is espeak-ng's {info.name.replace('_', ' ')} voice, not an English one, "
                "so Companion's words may be hard to follow; --voice joe or espeak:en-gb is English")

    def voices(self) -> list[tuple[str, str, bool]]:
        """(short id, name, English) of every espeak-ng voice."""
        return [(_short_id(v), v.name.replace("_", " "), _is_english(v)) for v in self._tts().getProperty("voices")]

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

    def _synthesize(self, text: str) -> tuple[np.ndarray, int]:
        ensure_private_dir(self.cache_dir)
        partial = self.cache_dir / f".espeak-{os.getpid()}-{threading.get_ident()}.wav"
        try:
            for _attempt in range(RENDER_ATTEMPTS):
                self._render_once(text, partial)
                if partial.exists() and partial.stat().st_size > 44:
                    break
            else:
                raise CompanionError(f"the voice could not render '{text[:40]}'", "run `companion doctor` to check the voice")
            samples, rate = sf.read(partial, dtype="float32", always_2d=True)
        finally:
            partial.unlink(missing_ok=True)
        return samples.mean(axis=1), rate


def _plain(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("(", " ").replace(")", " ").lower().split())


def _short_id(voice) -> str:
    return voice.id.rsplit("/", 1)[-1]


def _is_english(voice) -> bool:
    languages = [str(lang).lower() for lang in (voice.languages or [])]
    return any(lang == "en" or lang.startswith("en-") for lang in languages) or _short_id(voice).lower().startswith("en")
