"""Unit tests of the pure logic: text normalisation, WER, command matching, VAD, WAV writing, config."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from companion import config
from companion.audio.resample import StreamResampler, resample
from companion.audio.wavfile import GrowingWav
from companion.errors import CompanionError
from companion.events import Word
from companion.speech.base import join_words
from companion.speech.vad import EnergyVad
from companion.textnorm import character_error_rate, missing_word_rate, normalize_words, word_error_rate, word_errors
from companion.understand.control import split_trailing_command


def words(text: str) -> list[Word]:
    return [Word(w, i * 0.5, i * 0.5 + 0.4, 0.9) for i, w in enumerate(text.split())]


def test_normalize_and_wer():
    assert normalize_words("And Mr. John's ill-disposed, \u2018friend\u2019!") == ["and", "mister", "john's", "ill", "disposed", "friend"]
    assert word_error_rate("he was not an ill disposed young man", "He was not an ill-disposed young man.") == 0.0
    assert word_error_rate("a b c d", "a x c") == pytest.approx(0.5)
    assert word_error_rate("", "") == 0.0
    assert character_error_rate("안녕 하세요", "안녕하세요") == 0.0
    assert word_error_rate("I am calm", "I'm calm.") == 0.0  # contractions are the same words said


def test_missing_words_are_told_apart_from_words_heard_wrongly():
    assert word_errors("a b c d e".split(), "a x c e f g".split()) in [(1, 1, 2), (3, 0, 1)]  # ties
    assert word_errors("a b c d e".split(), "a x c e".split()) == (1, 1, 0)
    assert missing_word_rate("I would like to notice when I hold my breath", "I would like to know this when I called my breath") == 0.0
    assert missing_word_rate("one two three four", "one four") == pytest.approx(0.5)


def test_join_words_glues_pieces():
    assert join_words([Word("cold", 0, 1, 1), Word("-hearted", 1, 2, 1), Word("man", 2, 3, 1)]) == "cold-hearted man"


def paused(text: str, pause: float) -> list[Word]:
    """Words 0.5 s apart, with `pause` seconds of quiet before the words after a "|"."""
    out, t = [], 0.0
    for part in text.split("|"):
        for w in part.split():
            out.append(Word(w, t, t + 0.4, 0.9))
            t += 0.5
        t += pause - 0.1
    return out


@pytest.mark.parametrize(
    "said, kept, command",
    [
        ("I felt lighter | Next.", "I felt lighter", "next"),
        ("I felt lighter. | Next.", "I felt lighter.", "next"),
        # a lone "Next." that Whisper wrote as the end of a video
        ("a little relief. | I'll see you next time.", "a little relief.", "next"),
        ("I'll see you next time.", "", "next"),
        ("skip", "", "skip"),
        ("Okay, skip please", "", "skip"),
        ("that is all for now | I'm done", "that is all for now", "done"),
        ("I am done", "", "done"),
        ("next week I will rest", "next week I will rest", None),
        # a control word inside the sentence is part of the answer, not a command
        ("I am nervous about what happens next", "I am nervous about what happens next", None),
        ("I felt lighter next", "I felt lighter next", None),
        ("and then I was done", "and then I was done", None),
    ],
)
def test_a_control_word_counts_only_as_an_utterance_of_its_own(said, kept, command):
    rest, found = split_trailing_command(paused(said, 0.8))
    assert join_words(rest) == kept
    assert found == command


def test_a_control_word_after_only_a_short_breath_is_part_of_the_sentence():
    rest, found = split_trailing_command(paused("what happens | next", 0.2))
    assert (join_words(rest), found) == ("what happens next", None)
    rest, found = split_trailing_command(paused("calmer than this morning. | I'm done.", 0.2))  # a sentence of its own
    assert (join_words(rest), found) == ("calmer than this morning.", "done")


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
    assert settings.silence == 3.0 and settings.prompts == ["How am I?"] and settings.voice == "joe"


def test_a_file_that_is_not_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[voice\n")
    with pytest.raises(CompanionError, match="is not valid TOML"):
        config.load(path)


def test_unknown_names_are_notes_and_bad_values_wait_for_the_command_that_uses_them(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[nope]\na=1\n[reflect]\nsilense = 5\nwait = 30\n[voice]\nrate = 'fast'\nvolume = 0.5\n")
    settings = config.load(path)
    assert len(settings.notes) == 2
    assert "[nope]" in settings.notes[0] and "known sections: speech, audio, voice, reflect" in settings.notes[0]
    assert "'silense'" in settings.notes[1] and "did you mean 'silence'?" in settings.notes[1]
    assert settings.wait == 30.0 and settings.volume == 0.5 and settings.rate == 140  # the default meanwhile
    settings.check("silence", "wait", "volume")  # settings that are fine do not stop anything
    with pytest.raises(CompanionError, match="should be a whole number"):
        settings.check("rate")
    assert config.merged(config.load(path), rate=130).check(*config.ALL).rate == 130  # an option sets it aside


def test_every_clip_is_brought_to_one_loudness():
    """A quiet clip and a loud one, with pauses, come out at the same level of their active part;
    the volume scales it; a clip that would clip is held under the limit; silence stays silence."""
    from companion.voice.loudness import PEAK_LIMIT, TARGET_RMS, active_level, even_loudness

    rate = 16000
    t = np.arange(rate) / rate
    speechlike = np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    paused = np.concatenate([speechlike, np.zeros(rate), speechlike]).astype(np.float32)
    for scale in (0.01, 0.8):
        out = even_loudness(paused * scale, rate, volume=0.9)
        assert abs(active_level(out, rate) - TARGET_RMS * 0.9) < 0.002  # the pause does not count
        assert np.all(out[rate + 800 : 2 * rate - 800] == 0)
    assert abs(active_level(even_loudness(paused, rate, 0.45), rate) - TARGET_RMS * 0.45) < 0.002
    click = np.zeros(rate, np.float32)
    click[100] = 0.5  # one sharp peak: reaching the target level would clip it
    assert np.max(np.abs(even_loudness(click, rate))) <= PEAK_LIMIT + 1e-6
    assert not np.any(even_loudness(np.zeros(800, np.float32), rate))


def test_a_phrase_begins_at_its_first_sound():
    """The quiet a voice renders before a phrase is cut to LEAD_KEPT; a pause inside, a clip that
    begins at once and silence are left as they are."""
    from companion.voice.loudness import LEAD_KEPT, without_leading_quiet

    rate = 22050
    rng = np.random.default_rng(1)
    voice = (np.sin(2 * np.pi * 200 * np.arange(rate // 2) / rate) * 0.3).astype(np.float32)
    hiss = (rng.standard_normal(int(0.06 * rate)) * 1e-4).astype(np.float32)  # a renderer's near-silence
    phrase = np.concatenate([hiss, voice, np.zeros(rate // 4, np.float32), voice])
    out = without_leading_quiet(phrase, rate)
    assert abs((len(phrase) - len(out)) / rate - (0.06 - LEAD_KEPT)) < 0.006
    assert np.array_equal(out[-len(voice) * 2 - rate // 4 :], phrase[-len(voice) * 2 - rate // 4 :])  # the pause stays
    assert np.array_equal(without_leading_quiet(voice, rate), voice)
    assert len(without_leading_quiet(np.zeros(800, np.float32), rate)) == 800


def test_crisis_words_are_found_whether_or_not_they_are_contracted():
    from companion.understand.crisis import crisis_words_in

    assert crisis_words_in("I don't want to be alive anymore") == crisis_words_in("I do not want to be alive anymore") != []
