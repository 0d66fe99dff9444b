"""`companion listen` end to end: the private PulseAudio server, Whisper, the voice and SQLite."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import espeak_wav, natural_wav

from companion.harness.drive import drive_command
from companion.textnorm import word_error_rate
from companion.paths import database_path

WAITING = "Waiting for"
ACK = "Yes?"


def _stop_on(proc, marks: list[float], count: int) -> None:
    """Ctrl-C once the listener has said it is waiting for the `count`-th time."""
    def later() -> None:
        while proc.poll() is None and len(marks) < count:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
    threading.Thread(target=later, daemon=True).start()


def _rows(sql: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(database_path())
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.mark.audio
def test_name_then_practice_then_stop_then_a_ripple_in_one_breath(virtual_audio, companion_env, tmp_path):
    name = natural_wav("Companion.", tmp_path / "name.wav")
    ground = natural_wav("Help me ground.", tmp_path / "ground.wav")
    stop = natural_wav("Stop.", tmp_path / "stop.wav")
    ripple = natural_wav("Companion, I noticed I breathed more slowly at work.", tmp_path / "ripple.wav")
    waiting: list[float] = []
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    try:
        run = drive_command(
            virtual_audio, ["listen"],
            [(WAITING, name, 1.5), ("(listening for your request)", ground, 0.5), ("Allow rest.", stop, 4.0), (WAITING, ripple, 1.5)],
            companion_env, timeout=240, watch=("(understood:",),
            on_start=lambda proc: _stop_on(proc, waiting, 3),
            on_mark=lambda marker, at: waiting.append(at) if marker == WAITING else None)
    finally:
        recording.stop()
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 130, (run.stdout, run.stderr)
    out = run.stdout
    assert out.count(WAITING) >= 3, out  # waiting again after each request
    assert "(understood: practice" in out and "(understood: ripple" in out, out
    [practice] = _rows("SELECT * FROM practice_runs")
    assert practice["outcome"] == "stopped", (dict(practice), out)
    [entry] = _rows("SELECT * FROM entries")
    assert entry["kind"] == "ripple", dict(entry)
    # the ripple's own words (a tense heard otherwise, "breathe" for "breathed", is recognition, not behaviour)
    assert word_error_rate("I breathed more slowly at work", entry["text"]) <= 0.2, (entry["text"], out)
    assert entry["audio"] is None  # the request's sound is not kept
    heard, rate = sf.read(recording.path, dtype="float32")
    assert float(np.sqrt(np.mean(heard**2))) > 0.005  # the acknowledgement, the practice and the replies were spoken


@pytest.mark.audio
def test_speech_without_the_name_never_wakes_it_and_an_unknown_request_is_answered_kindly(virtual_audio, companion_env, tmp_path):
    sentences = ["I walked to the river this morning and the water was very calm.",
                 "My companion and I went for a long walk after lunch.",
                 "Can you tell me what time the train leaves tomorrow?"]
    chatter = [sf.read(espeak_wav(s, tmp_path / f"s{i}.wav"), dtype="float32") for i, s in enumerate(sentences)]
    unknown, rate = sf.read(natural_wav("Companion, what's the weather like on Mars?", tmp_path / "mars.wav"), dtype="float32")
    pause = np.zeros(int(1.5 * rate), np.float32)
    spoken = [np.interp(np.arange(int(len(a) * rate / r)) * r / rate, np.arange(len(a)), a).astype(np.float32) for a, r in chatter]
    sf.write(tmp_path / "room.wav", np.concatenate([x for a in spoken for x in (a, pause)] + [unknown]), rate)
    waiting: list[float] = []
    run = drive_command(
        virtual_audio, ["listen"], [(WAITING, tmp_path / "room.wav", 1.0)], companion_env, timeout=180,
        on_start=lambda proc: _stop_on(proc, waiting, 2),
        on_mark=lambda marker, at: waiting.append(at) if marker == WAITING else None)
    assert run.returncode == 130 and "Traceback" not in run.stderr, (run.stdout, run.stderr)
    assert run.stdout.count("(heard:") == 1, run.stdout  # only the request with the name was ever woken for
    assert "(understood: unknown" in run.stdout and "I'm not sure I understood" in run.stdout, run.stdout
    assert _rows("SELECT count(*) FROM entries")[0][0] == 0


def test_a_second_listener_refuses_in_one_line(companion_home):
    import subprocess
    import sys

    from companion.listen.lock import single_listener

    with single_listener():
        run = subprocess.run([sys.executable, "-m", "companion", "listen"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "already listening" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


@pytest.mark.audio
def test_its_own_voice_heard_back_through_the_room_does_not_wake_it(virtual_audio, companion_env, tmp_path):
    """With the speaker looped back into the microphone, Companion's replies (the crisis note begins
    "Companion is not a therapist") are not taken for its name."""
    request = natural_wav("Companion, I don't want to be alive anymore.", tmp_path / "crisis.wav")
    waiting: list[float] = []
    virtual_audio.loopback_speaker_to_mic()
    try:
        run = drive_command(
            virtual_audio, ["listen"], [(WAITING, request, 1.0)], companion_env, timeout=180,
            on_start=lambda proc: _stop_on(proc, waiting, 2),
            on_mark=lambda marker, at: waiting.append(at) if marker == WAITING else None)
    finally:
        virtual_audio.unload_loopback()
    assert run.returncode == 130 and "Traceback" not in run.stderr, (run.stdout, run.stderr)
    assert "Companion is not a therapist" in run.stdout, run.stdout  # said, and heard back through the room
    assert run.stdout.count("(heard:") == 1, run.stdout


@pytest.mark.audio
def test_a_ripple_asked_for_is_kept_with_the_voice(virtual_audio, companion_env, tmp_path):
    """"Companion, I noticed something" -> the ripple's question -> the answer, kept with its audio
    and written by the final-text model the listener loads for the flow."""
    ask = natural_wav("Companion, I noticed something.", tmp_path / "ask.wav")
    answer = natural_wav("I asked for help at work and it felt okay.", tmp_path / "answer.wav")
    waiting: list[float] = []
    run = drive_command(
        virtual_audio, ["listen"], [(WAITING, ask, 1.0), ("(listening - take", answer, 0.6)], companion_env, timeout=180,
        on_start=lambda proc: _stop_on(proc, waiting, 2),
        on_mark=lambda marker, at: waiting.append(at) if marker == WAITING else None)
    assert run.returncode == 130 and "Traceback" not in run.stderr, (run.stdout, run.stderr)
    [entry] = _rows("SELECT * FROM entries")
    understood = [line for line in run.stdout.splitlines() if line.startswith("(understood")]
    assert entry["kind"] == "ripple" and entry["audio"], (entry["text"], understood)  # short: pytest keeps it whole
    assert "whisper-base" in (entry["model"] or ""), dict(entry)
    assert word_error_rate("I asked for help at work and it felt okay.", entry["text"]) <= 0.2, dict(entry)
