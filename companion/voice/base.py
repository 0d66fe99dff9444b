"""Companion's speaking voice, whichever engine speaks: each phrase is rendered once to samples, at
one loudness (`loudness`), cached on disk, and played by the speaker (so it can be cut at once).
Phrases a flow will need are rendered ahead in a background thread (`prepare`), never on the beat."""

from __future__ import annotations

import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from companion.errors import CompanionError, StorageError
from companion.paths import ensure_private_dir, make_private, voice_cache_dir
from companion.voice.loudness import even_loudness, without_leading_quiet

CACHE_FORMAT = "3"  # part of every cache key: a change to rendering or loudness renders phrases anew
Notify = Callable[[str], None]


@dataclass
class VoiceSettings:
    voice: str = "joe"  # a Piper voice ("joe"), or an espeak-ng voice ("espeak:en-gb", or just "en-gb")
    rate: int = 140  # words per minute: calm and unhurried
    volume: float = 0.9


class VoiceUnavailable(CompanionError):
    """This voice cannot speak at all (its model is missing or damaged)."""


class Voice(ABC):
    """A voice that renders phrases to float32 mono samples, caching each rendered phrase. A voice
    with a `fallback` speaks with it, saying so once through `notify`, if it turns out unable to."""

    backend: str = ""  # "piper" or "espeak"
    fallback: Voice | None = None
    notify: Notify | None = None

    def __init__(self, settings: VoiceSettings, cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir or voice_cache_dir()
        self._lock = threading.Lock()  # one synthesis at a time (the engines are not thread-safe)
        self._asked = 0  # phrases asked for now, which rendering ahead lets go first
        self._turn = threading.Condition()
        self._ahead: threading.Thread | None = None
        self._cancelled = threading.Event()
        self._failed = False

    @property
    @abstractmethod
    def name(self) -> str:
        """The voice's name as a person chooses it (`--voice`)."""

    @abstractmethod
    def _synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """The phrase as float32 mono samples (any level) and their rate."""

    @property
    def speaking(self) -> Voice:
        """The voice that really speaks: this one, or its fallback once this one could not."""
        return self.fallback if self._failed and self.fallback is not None else self

    def describe(self) -> str:
        """One line: which voice, from where."""
        return f"{self.name} ({self.backend})"

    def language_note(self) -> str | None:
        """A note when the voice does not speak English (Companion's words are English)."""
        return None

    def check(self) -> None:
        """Raise a CompanionError now if this voice cannot speak (before any device is opened)."""

    def _cache_key(self, text: str) -> str:
        s = self.settings
        return f"{CACHE_FORMAT}|{self.backend}|{self.name}|{s.rate}|{s.volume}|{text}"

    def _cache_path(self, text: str) -> Path:
        return self.cache_dir / f"{hashlib.sha256(self._cache_key(text).encode()).hexdigest()[:24]}.wav"

    def is_cached(self, text: str) -> bool:
        return self._cache_path(text).exists()

    def render(self, text: str, keep: bool = True) -> tuple[np.ndarray, int]:
        """The phrase as float32 mono samples and their rate; rendered once, then read from the cache.
        `keep=False`: a phrase with the person's own words, rendered in memory only, never kept.
        A phrase asked for now goes before the phrases being rendered ahead (after the one under way)."""
        with self._turn:
            self._asked += 1
        try:
            return self._render_in_turn(text, keep)
        finally:
            with self._turn:
                self._asked -= 1
                self._turn.notify_all()

    def _render_in_turn(self, text: str, keep: bool) -> tuple[np.ndarray, int]:
        with self._lock:  # one phrase at a time; a phrase rendered ahead meanwhile is read from the cache
            if self._failed and self.fallback is not None:
                return self.fallback.render(text, keep)
            try:
                return self._render(text, keep)
            except VoiceUnavailable as e:
                if self.fallback is None:
                    raise
                self._failed = True
                if self.notify is not None:
                    self.notify(f"{e.message}, so Companion speaks with espeak-ng ({self.fallback.name}) instead; {e.hint}")
                return self.fallback.render(text, keep)

    def _render(self, text: str, keep: bool) -> tuple[np.ndarray, int]:
        path = self._cache_path(text)
        if keep and path.exists():
            try:
                samples, rate = sf.read(path, dtype="float32", always_2d=True)
                return samples.mean(axis=1), rate
            except (OSError, RuntimeError):
                path.unlink(missing_ok=True)  # damaged: rendered again
        samples, rate = self._synthesize(text)
        samples = even_loudness(without_leading_quiet(samples, rate), rate, self.settings.volume)
        if keep:
            self._store(path, samples, rate)
        return samples, rate

    def _store(self, path: Path, samples: np.ndarray, rate: int) -> None:
        ensure_private_dir(self.cache_dir)
        partial = path.with_name(f".{path.stem}-{os.getpid()}-{threading.get_ident()}.tmp.wav")
        try:
            sf.write(str(partial), samples, rate, subtype="FLOAT")
            make_private(partial)  # 0600 whatever the umask
            os.replace(partial, path)
        except (OSError, RuntimeError) as e:
            partial.unlink(missing_ok=True)
            if "No space left" in str(e) or getattr(e, "errno", None) == 28:
                raise StorageError("the disk is full, so the voice could not speak", "free some space; nothing stored earlier is lost") from None
            raise CompanionError(f"the voice could not keep what it rendered ({e})", "run `companion doctor` to check the voice") from None

    def prepare(self, texts: Iterable[str]) -> None:
        """Render these phrases in a background thread, so they are ready before they are needed
        (a phrase asked for meanwhile waits only for itself). Failures surface when it is rendered."""
        missing = [t for t in dict.fromkeys(texts) if t and not self.is_cached(t)]
        if not missing:
            return

        before = self._ahead

        def ahead() -> None:
            if before is not None:
                before.join()  # phrases asked for earlier come first
            try:
                for text in missing:
                    with self._turn:
                        self._turn.wait_for(lambda: self._asked == 0 or self._cancelled.is_set())
                    if self._cancelled.is_set():
                        return
                    self._render_in_turn(text, True)
            except Exception:  # noqa: BLE001 - said again, clearly, when the phrase is needed
                return
            finally:
                self.release()

        self._ahead = threading.Thread(target=ahead, name="voice-ahead", daemon=True)
        self._ahead.start()

    def release(self) -> None:
        """Let the voice's model go once every phrase needed is rendered (loaded again if one more
        is asked for): its memory is back before the speech models need theirs."""

    def wait_ready(self) -> None:
        """Wait for the phrases being rendered ahead."""
        if self._ahead is not None:
            self._ahead.join()

    def settle(self) -> None:
        """Stop rendering ahead after the phrase under way, and wait for it (a native library must
        not be synthesizing as the process exits)."""
        self._cancelled.set()
        with self._turn:
            self._turn.notify_all()
        self.wait_ready()
