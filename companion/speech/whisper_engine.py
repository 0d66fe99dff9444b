"""Whisper (faster-whisper, CTranslate2 int8) engine: utterances cut by voice-activity detection.

Whisper is not a streaming model, so the stream is cut into utterances by voice-activity detection
(Silero, `companion.speech.silero`, which tells speech from a fan or the radio; short spoken commands
by the energy detector, which closes them sooner); while one is being spoken, a quick greedy decode
of what has been heard so far gives the partial text. Words nobody said are left out of every
final decode (`companion.speech.hallucination`).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from pathlib import Path

import numpy as np

from companion.events import (
    SAMPLE_RATE,
    AudioChunk,
    Partial,
    SpeechEvent,
    Transcript,
    Word,
)
from companion.native_libs import give_back_free_memory, map_large_allocations_apart
from companion.speech.base import Recognizer, SpeechEngine, join_words
from companion.speech.hallucination import is_not_speech, speaking_level, without_inventions, word_levels
from companion.speech.silero import FRAME_SECONDS, SileroStream, VoiceDetector
from companion.speech.vad import EnergyVad
from companion.textnorm import normalize_words

PRE_ROLL = 0.3  # seconds kept before the detected start of speech
UTTERANCE_GAP = 0.8  # silence that closes an utterance
EARLY_FINAL_GAP = 0.3  # after this much silence the final decode starts; kept if nothing is heard until UTTERANCE_GAP
SOUND_SETTLE = 0.1  # ...and not within this of a sound (the start of speech is a few sounds before it is voice)
EARLY_FINAL_TRIES = 2  # early decodes for one pause at most (a soft sound after the first calls for another)
MAX_UTTERANCE = 25.0  # Whisper sees 30 s windows
PARTIAL_EVERY = 1.0  # seconds of new speech between partial decodes
COMMAND_GAP = 0.2  # with a grammar: short commands are closed quickly...
COMMAND_EARLY_GAP = 0.03  # ...and tried even sooner (a decode that is exactly a phrase acts at once; a word not yet over decodes as no phrase and is tried again)
COMMAND_MAX = 2.0  # ...and anything longer is not a command, so it is never decoded
COMMAND_WINDOW = 3.0  # seconds the encoder sees for a command (not the usual padded 30 s: ~8x faster)
COMMAND_MAX_TOKENS = 12
BEHIND_LIMIT = 0.5  # seconds the audio being heard may lag real time before decodes that can wait, wait
COMMAND_MIN_CONFIDENCE = 0.78  # spoken commands decode at 0.8-0.97; a soft tone can come out as "Pause." at ~0.7
COMMAND_VOICE = 0.7  # Silero's speech probability some frame of a command reaches: said commands 0.85-0.99 (quiet,
# in fan noise, two voices), a practice's tones at most 0.41; loud enough for the energy detector is not a voice
FINAL_LATE_ALLOWANCE = 0.5  # seconds a final text may come after the caller's deadline, when it was not decoded ahead
FINAL_MARGIN = 1.25  # the expected time of a final decode: the slowest of the last few, times this
FINAL_FIXED_SECONDS = 10.0  # a final decode costs about as much as this many seconds of audio before its length counts (the encoder's 30-s window)
PARTIAL_MARGIN = 1.0  # seconds of quiet after the audio in a partial's window (the encoder sees only what it needs)
IMPORT_SPEECH_PAD_MS = 800  # a recording's voiced stretches are decoded with this much of the room either side
# (faster-whisper's 400 clipped first and last sounds under a fan: "Story" for "Sorry", "filing" for "file name")
PARTIAL_TOKENS_PER_SECOND = 6  # ample for speech (about 3 words a second), short of a loop's worth
FINAL_BEAM = 5
FALLBACK_SAMPLES = 2  # candidates sampled when a final decode falls back to a higher temperature (the library's 5
# held a working copy each: over other voices, where it falls back most, 200 MB more at once instead of 127, same words)


class WhisperRecognizer(Recognizer):
    def __init__(self, engine: "WhisperEngine", grammar: list[str] | None = None, context: str | None = None,
                 final_within: float | None = None) -> None:
        self._engine = engine
        self._final_within = final_within
        self._grammar = grammar
        self._context = context
        self._vad = EnergyVad() if grammar else VoiceDetector()
        self._history = np.zeros(0, dtype=np.float32)  # recent audio, for the pre-roll
        self._utterance: list[np.ndarray] = []
        self._utterance_start = 0.0
        self._since_partial = 0.0
        self._position = 0.0  # seconds of audio accepted
        self._previous_end = 0.0  # where the last utterance ended: the next never reaches back past it
        self._phrases = {tuple(normalize_words(p)): p for p in grammar or [] if not p.startswith("[")}
        self._gap = COMMAND_GAP if grammar else UTTERANCE_GAP
        self._too_long = False
        self._early_tried: float | None = None  # the voice end an early decode was tried for
        self._early_unsure = False  # ...and that decode was a phrase, below COMMAND_MIN_CONFIDENCE
        self._early_final: tuple[float | None, list[Word]] | None = None  # (last sound, words) decoded ahead
        self._early_tries: dict[float | None, int] = {}  # early decodes per voice end
        self._clock: tuple[float, float] | None = None  # (monotonic time, stream position) of real time's pace
        if grammar:
            engine.decode_command(np.zeros(SAMPLE_RATE, np.float32), list(self._phrases.values()))  # warm up

    def accept(self, chunk: AudioChunk) -> list[SpeechEvent]:
        samples = chunk.samples.astype(np.float32, copy=False)
        was_speaking = self._vad.in_speech
        self._vad.accept(samples)
        self._position += len(samples) / SAMPLE_RATE
        behind = self._lag() > BEHIND_LIMIT  # partials and early finals then wait; the final decode catches up
        events: list[SpeechEvent] = []
        if self._vad.in_speech and not was_speaking:
            start = max(self._previous_end, (self._vad.speech_started_at or self._position) - PRE_ROLL)
            keep = int((self._position - start) * SAMPLE_RATE)
            recent = np.concatenate([self._history, samples])
            self._utterance = [recent[-keep:]] if keep > 0 else []
            self._utterance_start = self._position - sum(len(a) for a in self._utterance) / SAMPLE_RATE
            self._since_partial = 0.0
        elif self._vad.in_speech:
            self._utterance.append(samples)
            self._since_partial += len(samples) / SAMPLE_RATE
        self._history = np.concatenate([self._history, samples])[-int(2 * SAMPLE_RATE) :]

        if self._vad.in_speech:
            length = self._position - self._utterance_start
            if self._grammar and length >= COMMAND_MAX:
                self._too_long, self._utterance = True, []
            if self._vad.silence_for() >= self._gap or (not self._grammar and length >= MAX_UTTERANCE):
                events += self._finish_utterance()
            elif self._grammar and self._early_ready():
                self._early_tried = self._vad.last_voice_time
                words = self._command_words()
                if words:
                    events += self._finish_utterance(words)
            elif self._grammar is None and not behind and self._decode_ahead() and self._early_final_due():
                self._since_partial = 0.0  # it serves as this moment's partial too
                words = self._final_words(np.concatenate(self._utterance))
                self._early_final = (self._vad.last_sound_time, words)
                if words:
                    events.append(Partial(join_words(words)))
            elif self._since_partial >= PARTIAL_EVERY and self._grammar is None and not behind:
                self._since_partial = 0.0
                text = self._engine.decode_text(np.concatenate(self._utterance))
                if text:
                    events.append(Partial(text))
        return events

    def flush(self) -> list[SpeechEvent]:
        return self._finish_utterance() if self._vad.in_speech and self._utterance else []

    def _lag(self) -> float:
        """How far the audio just accepted is behind real time, in seconds: above zero when decodes
        have taken longer than the audio they heard and chunks wait in the microphone's queue (audio
        read from a file, faster than real time, is never behind)."""
        now = time.monotonic()
        if self._clock is None:
            self._clock = (now, self._position)
        lag = (now - self._clock[0]) - (self._position - self._clock[1])
        if lag < 0:
            self._clock, lag = (now, self._position), 0.0
        return lag

    def _decode_ahead(self) -> bool:
        """Whether to decode at a short pause. That decode is wasted whenever the voice resumes (often,
        in a noisy room), so it is done only when a decode begun as the utterance closes would be late:
        it is expected to take longer than the time left before the caller needs the text."""
        if self._final_within is None:
            return True
        expected = self._engine.expected_final_seconds(self._position - self._utterance_start)
        left = self._final_within - UTTERANCE_GAP + FINAL_LATE_ALLOWANCE
        return expected is None or expected > left

    def _early_ready(self) -> bool:
        """A command may already be complete: a short quiet after the voice, not yet tried."""
        return (not self._too_long and bool(self._utterance) and self._vad.silence_for() >= COMMAND_EARLY_GAP
                and self._early_tried != self._vad.last_voice_time)

    def _early_final_due(self) -> bool:
        """A pause long enough that the utterance may be over: decode it now, while the rest of the
        silence is heard, so the final text is ready when the utterance closes (unless voice resumes)."""
        if not self._utterance or self._vad.silence_for() < EARLY_FINAL_GAP:
            return False
        if self._vad.now - (self._vad.last_sound_time or 0.0) < SOUND_SETTLE:
            return False  # a sound just now: wait to know whether it is the voice coming back
        if self._early_final is not None and self._early_final[0] == self._vad.last_sound_time:
            return False  # decoded already, and nothing heard since
        tries = self._early_tries.get(self._vad.last_voice_time, 0)
        self._early_tries = {self._vad.last_voice_time: tries + 1}  # soft sounds in a noisy room: twice at most
        return tries < EARLY_FINAL_TRIES

    def _final_words(self, audio: np.ndarray) -> list[Word]:
        """The final decode, with word timings relative to the start of `audio`."""
        return self._engine.decode_words(audio, self._context)

    def _command_words(self) -> list[Word]:
        """The utterance so far as one of the phrases (with stream timings), or nothing."""
        audio = np.concatenate(self._utterance)
        if max(SileroStream().accept(audio), default=0.0) < COMMAND_VOICE:
            self._early_unsure = False
            return []  # a tone, a knock: never a command, however it would decode
        decoded = self._engine.decode_command(audio, list(self._phrases.values()))
        offset = self._utterance_start
        words = self._as_phrase([Word(w.word, w.start + offset, w.end + offset, w.conf) for w in decoded])
        self._early_unsure = bool(words) and any(w.conf < COMMAND_MIN_CONFIDENCE for w in words)
        return [] if self._early_unsure else words

    def _finish_utterance(self, decided: list[Word] | None = None) -> list[SpeechEvent]:
        too_long = self._too_long
        # Decoded already with all the voice there is, unless that decode was a phrase it was unsure
        # of: a word's soft release (the "p" of "stop") may not count as voice, and the early decode
        # heard "sto"; with the quiet after it the phrase is heard whole.
        already_tried = (self._early_tried is not None and self._early_tried == self._vad.last_voice_time
                         and not self._early_unsure)
        words = decided if decided is not None else (
            self._command_words() if self._grammar and self._utterance and not too_long and not already_tried else None)
        self._early_unsure = False
        audio = np.concatenate(self._utterance) if self._utterance else np.zeros(0, np.float32)
        early, self._early_final = self._early_final, None
        if early is not None and early[0] == self._vad.last_sound_time:
            decoded = early[1]  # not a sound since it was decoded (not even a soft one): only silence would be added
        else:
            decoded = None
        offset = self._utterance_start
        self._previous_end = self._position
        self._utterance = []
        self._vad.end_segment()
        self._too_long = False
        if too_long:
            return []
        if self._grammar:
            words = words or []
        else:
            if decoded is None:
                decoded = self._final_words(audio)
            words = [Word(w.word, w.start + offset, w.end + offset, w.conf) for w in decoded]
        if not words:
            return []
        return [Transcript(join_words(words), words, words[0].start, words[-1].end)]

    def _as_phrase(self, words: list[Word]) -> list[Word]:
        """Restricted recognition: the utterance must be one of the grammar's phrases, else nothing."""
        phrase = self._phrases.get(tuple(normalize_words(join_words(words))))
        if phrase is None or not words:
            return []
        conf = min(w.conf for w in words)
        return [Word(p, words[0].start, words[-1].end, conf) for p in phrase.split()] if len(phrase.split()) != len(words) else [
            Word(p, w.start, w.end, w.conf) for p, w in zip(phrase.split(), words)
        ]


def _int8_model(model_dir: Path, threads: int):
    """A faster-whisper model on the CPU in int8, and the memory its loading freed given back."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    give_back_free_memory()
    return model


class WhisperEngine(SpeechEngine):
    name = "whisper"

    def __init__(self, model_dir: Path, model_name: str = "whisper-tiny.en", threads: int = 0,
                 final_dir: Path | None = None) -> None:
        """`final_dir`: a second Whisper model for the final text of each utterance and for imports
        (partials and commands stay with the first, quicker one)."""
        started = time.perf_counter()
        map_large_allocations_apart()
        # The larger model first, while little else is resident: loading converts its weights to
        # int8 through a transient copy, and that moment is the process's peak.
        final = _int8_model(final_dir, threads) if final_dir else None
        self._model = _int8_model(model_dir, threads)
        self._final = final or self._model
        self.load_seconds = time.perf_counter() - started
        self._final_seconds: deque[tuple[float, float]] = deque(maxlen=4)  # (audio seconds, seconds taken) of the last final decodes
        self.model_path = str(model_dir)
        self.model_name = model_name if final_dir is None else f"{model_name} + {Path(final_dir).name}"

    def recognizer(self, grammar: list[str] | None = None, context: str | None = None,
                   final_within: float | None = None) -> Recognizer:
        return WhisperRecognizer(self, grammar, context, final_within)

    def joined(self, final_dir: Path, threads: int = 0) -> WhisperEngine:
        """This engine with a second model for final text, sharing the listening model (not loaded
        again); dropping the new engine lets the second model go."""
        other = copy.copy(self)
        other._final = _int8_model(final_dir, threads)
        other._final_seconds = deque(maxlen=4)
        other.model_name = f"{self.model_name} + {Path(final_dir).name}"
        return other

    def decode_command(self, audio: np.ndarray, phrases: list[str] | None = None) -> list[Word]:
        """A fast greedy decode of a short utterance (a spoken command): the encoder runs on a
        COMMAND_WINDOW-second window instead of Whisper's padded 30 s, with no timestamps; the
        phrases are given as previous text, and no token may repeat (short windows otherwise loop:
        "Stop. Stop. Stop."). Words get evenly spread timings within the audio."""
        if len(audio) < SAMPLE_RATE // 10:
            return []
        seconds = min(len(audio) / SAMPLE_RATE, COMMAND_WINDOW)
        text, score, _ = self._short_decode(audio[-int(COMMAND_WINDOW * SAMPLE_RATE):], COMMAND_WINDOW,
                                            self._command_prompt(tuple(phrases or ())), COMMAND_MAX_TOKENS, 1)
        conf = float(np.exp(score))
        pieces = text.split()
        if not pieces:
            return []
        step = seconds / len(pieces)
        return [Word(w, i * step, (i + 1) * step, conf) for i, w in enumerate(pieces)]

    def opening_score(self, audio: np.ndarray, openings: list[str]) -> float:
        """How likely Whisper finds it that the words in `audio` begin with one of `openings` (the best
        of them): the mean log-probability of its tokens as the first text, the audio's encoding on a
        COMMAND_WINDOW-second window. Asks whether a name is there even when a free decode spelt it
        otherwise ("They can party in" for "Hey Companion" over other voices)."""
        if len(audio) < SAMPLE_RATE // 10 or not openings:
            return float("-inf")
        encoded, frames = self._encode_window(audio[-int(COMMAND_WINDOW * SAMPLE_RATE):], COMMAND_WINDOW)
        start = self._command_prompt(())
        best = float("-inf")
        for tokens in self._opening_tokens(tuple(openings)):
            probabilities = self._model.model.align(encoded, start, [tokens], frames)[0].text_token_probs
            best = max(best, float(np.mean(np.log(np.maximum(probabilities[: len(tokens)], 1e-12)))))
        return best

    def _opening_tokens(self, openings: tuple[str, ...]) -> list[list[int]]:
        cache = self.__dict__.setdefault("_openings", {})
        if openings not in cache:
            cache[openings] = [self._model.hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids
                               for text in openings]
        return cache[openings]

    def _encode_window(self, audio: np.ndarray, window: float):
        """The encoder's output for `audio` (at most `window` seconds, padded to it) and its frames of
        audio that are not padding."""
        import ctranslate2

        n = int(window * SAMPLE_RATE)
        heard = min(len(audio), n)
        audio = np.pad(audio[:n].astype(np.float32, copy=False), (0, n - heard))
        hop = self._model.feature_extractor.hop_length
        features = self._model.feature_extractor(audio)[:, : n // hop]
        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])))
        return encoded, max(1, heard // hop)

    def _short_decode(self, audio: np.ndarray, window: float, prompt: list[int], max_tokens: int,
                      no_repeat: int) -> tuple[str, float, float]:
        """Greedy decode of `audio` (at most `window` seconds) with the encoder on a `window`-second
        window; returns the text, its mean log-probability per token and the no-speech probability."""
        encoded, _ = self._encode_window(audio, window)
        result = self._model.model.generate(
            encoded, [prompt], beam_size=1, max_length=len(prompt) + max_tokens, return_scores=True,
            return_no_speech_prob=True, suppress_blank=True, no_repeat_ngram_size=no_repeat,
        )[0]
        text = self._model.hf_tokenizer.decode(result.sequences_ids[0]).strip()
        tokens = max(1, len(result.sequences_ids[0]))
        score = result.scores[0] / tokens if result.scores else 0.0
        return text, score, result.no_speech_prob

    def _command_prompt(self, phrases: tuple[str, ...]) -> list[int]:
        """Decoder prompt: the phrases as previous text, then start of transcript, no timestamps."""
        prompts = self.__dict__.setdefault("_command_prompts", {})
        if phrases not in prompts:
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe",
                                  language="en" if self._model.model.is_multilingual else None)
            previous = [tokenizer.sot_prev, *tokenizer.encode(" " + " ".join(p[:1].upper() + p[1:] + "." for p in phrases))] if phrases else []
            prompts[phrases] = [*previous, *tokenizer.sot_sequence, tokenizer.no_timestamps]
        return prompts[phrases]

    def _segments(self, audio: np.ndarray, final: bool = False, **options):
        if len(audio) < SAMPLE_RATE // 10:
            return []
        segments, _ = (self._final if final else self._model).transcribe(
            audio, language="en", condition_on_previous_text=False, vad_filter=False, **options
        )
        return [s for s in segments if not is_not_speech(s.no_speech_prob, s.avg_logprob)]

    def decode_text(self, audio: np.ndarray) -> str:
        """A quick greedy decode, for partial text: the encoder sees the audio and PARTIAL_MARGIN
        seconds more, not a padded 30 s (about 3x cheaper for a few seconds of speech; the final
        decode, on the full window, has the last word)."""
        if len(audio) < SAMPLE_RATE // 10:
            return ""
        window = min(float(np.ceil(len(audio) / SAMPLE_RATE + PARTIAL_MARGIN)), MAX_UTTERANCE + PARTIAL_MARGIN)
        text, score, no_speech = self._short_decode(audio, window, self._command_prompt(()),
                                                    int(window * PARTIAL_TOKENS_PER_SECOND), 3)
        return "" if is_not_speech(no_speech, score) else text

    def expected_final_seconds(self, audio_seconds: float) -> float | None:
        """How long a final decode of `audio_seconds` of audio is expected to take on this machine now,
        from the last few (None: none measured yet)."""
        if not self._final_seconds:
            return None
        return FINAL_MARGIN * max(taken * (FINAL_FIXED_SECONDS + audio_seconds) / (FINAL_FIXED_SECONDS + length)
                                  for length, taken in tuple(self._final_seconds))

    def decode_words(self, audio: np.ndarray, context: str | None = None) -> list[Word]:
        """The final decode of one utterance, with word timings; `context` primes the decoder.
        Words nobody said (no voice under them, stock phrases on noise, the context itself) are
        left out (companion.speech.hallucination)."""
        started = time.monotonic()
        words: list[Word] = []
        for segment in self._segments(audio, final=True, beam_size=FINAL_BEAM, best_of=FALLBACK_SAMPLES,
                                      word_timestamps=True, initial_prompt=context):
            for w in segment.words or []:
                text = w.word.strip()
                if text:
                    words.append(Word(text, float(w.start), float(w.end), float(w.probability)))
        give_back_free_memory()
        kept = without_inventions(words, list(SileroStream().accept(audio)), FRAME_SECONDS, question=context,
                                  levels=word_levels(audio, words, SAMPLE_RATE))
        if len(audio) >= SAMPLE_RATE // 10:
            self._final_seconds.append((len(audio) / SAMPLE_RATE, time.monotonic() - started))
        return kept

    def transcribe(self, samples: np.ndarray, chunk_seconds: float = 0.5) -> list[Transcript]:
        """A whole recording at once: Whisper's own long-form decoding is better than cutting it."""
        samples = samples.astype(np.float32, copy=False)
        segments, _ = self._final.transcribe(
            samples, language="en", beam_size=FINAL_BEAM, best_of=FALLBACK_SAMPLES, word_timestamps=True, vad_filter=True,
            vad_parameters={"speech_pad_ms": IMPORT_SPEECH_PAD_MS}, condition_on_previous_text=False,
        )
        probabilities = list(SileroStream().accept(samples))
        decoded = [[Word(w.word.strip(), float(w.start), float(w.end), float(w.probability)) for w in s.words or [] if w.word.strip()]
                   for s in segments if not is_not_speech(s.no_speech_prob, s.avg_logprob)]
        levels = word_levels(samples, [w for words in decoded for w in words], SAMPLE_RATE)
        usual = speaking_level(decoded, levels)
        out: list[Transcript] = []
        for words in decoded:
            words = without_inventions(words, probabilities, FRAME_SECONDS, levels=levels, usual=usual)
            if words:
                out.append(Transcript(join_words(words), words, words[0].start, words[-1].end))
        return out
