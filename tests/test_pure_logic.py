"""Unit tests of the pure logic: text normalisation, WER, command matching, VAD, WAV writing, config."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from companion import config
from companion.audio.resample import StreamResampler, resample
from companion.audio.wavfile import GrowingWav
from companion.commands import split_trailing_command
from companion.errors import CompanionError
from companion.events import Word
from companion.speech.base import join_words
from companion.textnorm import character_error_rate, normalize_words, word_error_rate
from companion.vad import EnergyVad


def words(text: str) -> list[Word]:
    return [Word(w, i * 0.5, i * 0.5 + 0.4, 0.9) for i, w in enumerate(text.split())]


def test_normalize_and_wer():
    assert normalize_words("And Mr. John's ill-disposed, \u2018friend\u2019!") == ["and", "mister", "john's", "ill", "disposed", "friend"]
    assert word_error_rate("he was not an ill disposed young man", "He was not an ill-disposed young man.") == 0.0
    assert word_error_rate("a b c d", "a x c") == pytest.approx(0.5)
    assert word_error_rate("", "") == 0.0
    assert character_error_rate("안녕 하세요", "안녕하세요") == 0.0


def test_join_words_glues_pieces():
    assert join_words([Word("cold", 0, 1, 1), Word("-hearted", 1, 2, 1), Word("man", 2, 3, 1)]) == "cold-hearted man"


@pytest.mark.parametrize(
    "said, kept, command",
    [
        ("I felt lighter next", "I felt lighter", "next"),
        ("I felt lighter. Next.", "I felt lighter.", "next"),
        ("skip", "", "skip"),
        ("that is all for now I'm done", "that is all for now", "done"),
        ("I am done", "", "done"),
        ("next week I will rest", "next week I will rest", None),
    ],
)
def test_trailing_commands(said, kept, command):
    rest, found = split_trailing_command(words(said))
    assert join_words(rest) == kept
    assert found == command


def tone(seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_vad_hears_voice_and_measures_silence():
    vad = EnergyVad()
    vad.accept(np.zeros(16000, np.float32))
    assert vad.last_voice_time is None and not vad.in_speech
    vad.accept(tone(1.0))
    assert vad.in_speech
    assert 0.9 < vad.speech_started_at + 0.1 < 1.2
    vad.accept(np.zeros(32000, np.float32))
    assert vad.silence_for() == pytest.approx(2.0, abs=0.05)


def test_vad_ignores_steady_noise_floor():
    rng = np.random.default_rng(0)
    vad = EnergyVad()
    vad.accept((0.01 * rng.standard_normal(5 * 16000)).astype(np.float32))  # -40 dB hiss
    vad.accept((0.01 * rng.standard_normal(16000)).astype(np.float32))
    assert not vad.in_speech or vad.last_voice_time < 0.5
    vad.accept(tone(0.5, 0.3))
    assert vad.last_voice_time and vad.last_voice_time > 5.9


def test_growing_wav_is_valid_while_written_and_truncates(tmp_path):
    path = tmp_path / "a.wav"
    wav = GrowingWav(path, sync_every=0.5)
    wav.write(tone(1.2))
    info = sf.info(path)  # readable before close: the header is kept up to date
    assert info.samplerate == 16000 and info.frames >= 8000
    wav.truncate(0.75)
    wav.close()
    data, rate = sf.read(path, dtype="float32")
    assert rate == 16000 and len(data) == 12000
    assert (path.stat().st_mode & 0o777) == 0o600


def test_stream_resampler_matches_whole_clip():
    clip = tone(1.0)
    src = resample(clip, 16000, 44100)
    stream = StreamResampler(44100, 16000)
    pieces = [stream.process(src[i : i + 2205]) for i in range(0, len(src), 2205)] + [stream.process(np.zeros(0, np.float32), last=True)]
    back = np.concatenate(pieces)
    assert abs(len(back) - len(clip)) < 20
    n = min(len(back), len(clip)) - 400
    assert np.max(np.abs(back[200:n] - clip[200:n])) < 0.01


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[reflect]\nsilence = 6\nprompts = ["How am I?"]\n[voice]\nrate = 120\n')
    settings = config.load(path)
    assert settings.silence == 6.0 and settings.prompts == ["How am I?"] and settings.rate == 120
    settings = config.merged(settings, silence=3.0, prompts=(), voice=None)
    assert settings.silence == 3.0 and settings.prompts == ["How am I?"] and settings.voice == "en-us"


@pytest.mark.parametrize("text, message", [("[nope]\na=1\n", "unknown section"), ("[voice]\nrate = 'fast'\n", "should be a whole number"), ("[voice\n", "is not valid TOML")])
def test_config_errors_are_clear(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(CompanionError, match=message):
        config.load(path)
