"""The review read aloud and moved by voice, and replay of the person's own voice, on real parts:
subprocesses on the private PulseAudio server, commands spoken into the virtual microphone, the
virtual speaker recorded and compared with what was stored."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate, resample_poly
from speech_fixtures import espeak_wav
from test_notice_e2e import drive_command

from companion.notice.flow import save_checkin
from companion.reflect.importer import import_recording
from companion.speech import models
from companion.store.database import Store
from companion.textnorm import normalize_words

pytestmark = pytest.mark.audio

ANSWERS = {
    "What felt important today?": "Talking about my sister.",
    "What do I want to notice in the coming days?": "When I hold my breath.",
}


@pytest.fixture(scope="module")
def whisper():
    return models.load(models.embedded_model())


def fill(tmp_path: Path, whisper) -> list[int]:
    """A session an hour ago, two spoken reflection answers and a check-in since then."""
    ids = []
    with Store.open() as store:
        store.add_session((datetime.now() - timedelta(hours=1)).isoformat(timespec="seconds"))
        for number, (prompt, said) in enumerate(ANSWERS.items()):
            wav = espeak_wav(said, tmp_path / f"answer{number}.wav", speed=140)
            entry_id = import_recording(store, whisper, wav).entry_id
            store.db.execute("UPDATE entries SET prompt = ? WHERE id = ?", [prompt, entry_id])
            ids.append(entry_id)
        save_checkin(store, "tired and calm")
    return ids


def test_review_is_spoken_and_moved_by_next_and_stop(virtual_audio, companion_env, tmp_path, whisper):
    ids = fill(tmp_path, whisper)
    with Store.open() as store:
        first_said = store.get_entry(ids[0])["text"]  # as Whisper heard it ("talking about my sister")
    next_wav = espeak_wav("Next.", tmp_path / "next.wav")
    stop_wav = espeak_wav("Stop.", tmp_path / "stop.wav")
    play_wav = espeak_wav("Play my voice.", tmp_path / "play.wav")
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    # a long --pause: only the spoken commands can move the review on in time
    steps = [("Since your session", next_wav, 5.0), ("(1/3)", play_wav), ("(your voice)", next_wav, 4.0),
             ("(2/3)", stop_wav)]
    run = drive_command(virtual_audio, ["review", "--pause", "40"], steps, companion_env, pause_before=1.0, timeout=110)
    speaker = recording.stop()
    assert run.returncode == 0, (run.stdout, run.stderr, run.marks, run.played)
    assert "Traceback" not in run.stderr
    out = run.stdout
    assert "you kept 2 reflection answers and one body check-in" in out
    assert "The body states you named: calm and tired." in out
    assert out.index("(1/3) ") < out.index("(2/3) ") < out.index("Stopping here. Everything stays saved.")
    assert "sister" in first_said.lower(), first_said
    assert " ".join(normalize_words(first_said)) in " ".join(normalize_words(out)), (first_said, out)
    assert "That is everything for now" not in out
    # each "next" moved on within seconds (not after the 40 s pause)
    for marker, following in (("Since your session", "(1/3)"), ("(1/3)", "(2/3)")):
        assert run.marks[following][0] - run.marks[marker][0] < 25, (marker, following)
    # the digest was read aloud: Companion's voice on the speaker before the first "next" was played
    samples, rate = sf.read(str(speaker), dtype="float32")
    start = run.marks["Since your session"][0] - recording.started_at
    first_next = run.played[0][0] - recording.started_at
    digest = samples[int(start * rate) : int(first_next * rate)]
    heard = " ".join(t.text for t in whisper.transcribe(digest)).lower()
    assert "since your session" in heard, heard
    # "play my voice": the person's own recording of the first answer was played to the speaker
    with Store.open() as store:
        first = store.list_entries(kind="reflection")[0]
        stored, stored_rate = sf.read(str(store.audio_path(first)), dtype="float32")
    begin = int((run.marks["(your voice)"][0] - recording.started_at) * rate)
    window = samples[begin : begin + int(6 * rate)]
    reference = resample_poly(stored, rate, stored_rate) if rate != stored_rate else stored
    _, score = best_match(window, reference)
    assert score > 0.9, score


def test_review_print_shows_without_speaking(companion_home, tmp_path, whisper):
    fill(tmp_path, whisper)
    result = subprocess.run([sys.executable, "-m", "companion", "review", "--print"], capture_output=True,
                            text=True, env=dict(os.environ), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "— What felt important today?" in result.stdout and "(2/3)" in result.stdout and "(3/3) Body check-ins" in result.stdout
    assert "body check-in" in result.stdout


def best_match(recorded: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """(offset in `recorded` where `reference` fits best, normalised correlation there)."""
    corr = correlate(recorded, reference, mode="valid", method="fft")
    offset = int(np.argmax(np.abs(corr)))
    window = recorded[offset : offset + len(reference)]
    score = float(np.dot(window, reference) / (np.linalg.norm(window) * np.linalg.norm(reference) + 1e-9))
    return offset, score


def test_play_sends_the_stored_voice_to_the_speaker(virtual_audio, companion_env, tmp_path, whisper):
    ids = fill(tmp_path, whisper)
    with Store.open() as store:
        entry = store.get_entry(ids[0])
        stored, stored_rate = sf.read(str(store.audio_path(entry)), dtype="float32")
    recording = virtual_audio.record_speaker(tmp_path / "played.wav")
    result = subprocess.run([sys.executable, "-m", "companion", "play", str(ids[0])], capture_output=True,
                            text=True, env=companion_env, timeout=60)
    speaker = recording.stop()
    assert result.returncode == 0, result.stderr
    played, rate = sf.read(str(speaker), dtype="float32")
    reference = resample_poly(stored, rate, stored_rate) if rate != stored_rate else stored
    _, score = best_match(played, reference)
    assert score > 0.9, score
    # the words were shown in step, in order
    shown = result.stdout.split("\n", 1)[1].split()
    assert shown == [w["word"] for w in entry["words"]], result.stdout

    # from a given word: only the rest is played
    word = entry["words"][2]
    recording = virtual_audio.record_speaker(tmp_path / "played-from.wav")
    result = subprocess.run([sys.executable, "-m", "companion", "play", str(ids[0]), "--from-word", word["word"]],
                            capture_output=True, text=True, env=companion_env, timeout=60)
    speaker = recording.stop()
    assert result.returncode == 0, result.stderr
    played, _ = sf.read(str(speaker), dtype="float32")
    start = int(max(0.0, word["start"] - 0.15) * rate)
    _, score = best_match(played, reference[start:])
    assert score > 0.9, score
    loud = np.flatnonzero(np.abs(played) > 0.01)
    assert (loud[-1] - loud[0]) / rate < len(reference) / rate - word["start"] + 0.3
    assert result.stdout.split("\n", 1)[1].split()[0] == word["word"]
