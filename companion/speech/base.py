"""The streaming interface every engine implements: audio chunks in, partials and transcripts out."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from companion.events import SAMPLE_RATE, AudioChunk, SpeechEvent, Transcript
from companion.textnorm import join_words  # noqa: F401 (engines join words with it)


class Recognizer(ABC):
    """One stream of speech. Times in events are seconds from the first sample accepted."""

    @abstractmethod
    def accept(self, chunk: AudioChunk) -> list[SpeechEvent]:
        """Take more audio; return whatever partials and final transcripts it produced."""

    @abstractmethod
    def flush(self) -> list[SpeechEvent]:
        """The stream has ended: return the last final transcript, if any."""


class SpeechEngine(ABC):
    """A loaded model that makes recognizers."""

    name: str  # "vosk" or "whisper"
    model_name: str
    model_path: str
    load_seconds: float = 0.0

    @abstractmethod
    def recognizer(self, grammar: list[str] | None = None, context: str | None = None,
                   final_within: float | None = None) -> Recognizer:
        """A new stream. With `grammar`, recognition is restricted to those phrases where the engine
        can; `context` (such as the question being answered) may guide engines that use it;
        `final_within`: seconds after an utterance ends by which its final text is needed (None: at
        once), so an engine may spare work it would do ahead."""

    def transcribe(self, samples: np.ndarray, chunk_seconds: float = 0.5) -> list[Transcript]:
        """Transcribe a whole recording by streaming it through a recognizer."""
        rec = self.recognizer()
        step = int(chunk_seconds * SAMPLE_RATE)
        out: list[Transcript] = []
        for i in range(0, len(samples), step):
            out += [e for e in rec.accept(AudioChunk(samples[i : i + step], i / SAMPLE_RATE)) if isinstance(e, Transcript)]
        out += [e for e in rec.flush() if isinstance(e, Transcript)]
        return out


class LoadingEngine(SpeechEngine):
    """An engine loading in a background thread, so Companion can speak its first words meanwhile.
    Its first use waits for the load, and a load that failed raises its error there."""

    def __init__(self, load: Callable[[], SpeechEngine]) -> None:
        self._done = threading.Event()
        self._engine: SpeechEngine | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._engine = load()
            except BaseException as e:  # noqa: BLE001 - raised again where the engine is first used
                self._error = e
            finally:
                self._done.set()

        threading.Thread(target=run, name="speech-load", daemon=True).start()

    def settle(self) -> None:
        """Wait for the load to end (a native library must not be loading as the process exits)."""
        self._done.wait()

    def loaded(self) -> SpeechEngine:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._engine is not None
        return self._engine

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.loaded(), name)

    def recognizer(self, grammar: list[str] | None = None, context: str | None = None,
                   final_within: float | None = None) -> Recognizer:
        return self.loaded().recognizer(grammar, context, final_within)

    def transcribe(self, samples: np.ndarray, chunk_seconds: float = 0.5) -> list[Transcript]:
        return self.loaded().transcribe(samples, chunk_seconds)


def to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
