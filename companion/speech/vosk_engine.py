"""vosk (Kaldi) engine: true streaming, partials, word timings, grammar-restricted recognition."""

from __future__ import annotations

import json
import time
from pathlib import Path

from companion.events import (
    SAMPLE_RATE,
    AudioChunk,
    Partial,
    SpeechEvent,
    Transcript,
    Word,
)
from companion.native_libs import quiet_native_stderr
from companion.speech.base import Recognizer, SpeechEngine, join_words, to_pcm16


class VoskRecognizer(Recognizer):
    def __init__(self, model, grammar: list[str] | None = None) -> None:
        import vosk

        if grammar:
            self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE, json.dumps(grammar, ensure_ascii=False))
        else:
            self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE)
        self._rec.SetWords(True)
        self._last_partial = ""
        self._keep_unk = bool(grammar)  # restricted: "[unk]" is an answer (none of the phrases), not noise

    def accept(self, chunk: AudioChunk) -> list[SpeechEvent]:
        if self._rec.AcceptWaveform(to_pcm16(chunk.samples)):
            self._last_partial = ""
            return self._transcript(self._rec.Result())
        text = json.loads(self._rec.PartialResult()).get("partial", "")
        if text and text != self._last_partial:
            self._last_partial = text
            return [Partial(text)]
        return []

    def flush(self) -> list[SpeechEvent]:
        return self._transcript(self._rec.FinalResult())

    def _transcript(self, result_json: str) -> list[SpeechEvent]:
        result = json.loads(result_json)
        words = [Word(w["word"], w["start"], w["end"], w.get("conf", 1.0)) for w in result.get("result", [])]
        words = [w for w in words if not (w.word.startswith("[") and w.word.endswith("]"))  # [unk], noise tokens
                 or (self._keep_unk and w.word == "[unk]")]
        if not words:
            return []
        return [Transcript(join_words(words), words, words[0].start, words[-1].end)]


class VoskEngine(SpeechEngine):
    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        import vosk

        vosk.SetLogLevel(-2)  # Kaldi: -1 still prints warnings, -2 only errors
        started = time.perf_counter()
        with quiet_native_stderr():
            self._model = vosk.Model(str(model_dir))
        self.load_seconds = time.perf_counter() - started
        self.model_path = str(model_dir)
        self.model_name = model_dir.name if model_dir.name != "model" else model_dir.parent.name

    def recognizer(self, grammar: list[str] | None = None, context: str | None = None,
                   final_within: float | None = None) -> Recognizer:
        return VoskRecognizer(self._model, grammar)

    def knows(self, word: str) -> bool:
        """Whether `word` is in the model's vocabulary (a grammar silently drops words it lacks)."""
        return self._model.vosk_model_find_word(word) >= 0
