"""Speech recognition: one streaming interface, two engines (vosk first, Whisper embedded)."""

from companion.speech.base import Recognizer, SpeechEngine, join_words

__all__ = ["Recognizer", "SpeechEngine", "join_words"]
