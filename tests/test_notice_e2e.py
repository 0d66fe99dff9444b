"""`companion ripple` and `companion checkin` end to end on real parts: a subprocess on the private
PulseAudio server, the answer spoken into the virtual microphone, Companion's voice on the speaker."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from speech_fixtures import espeak_wav, natural_wav

from companion.harness.drive import drive_command as drive
from companion.notice.flow import CHECKIN_PROMPT
from companion.store.database import Store
from companion.textnorm import normalize_words, word_error_rate

pytestmark = pytest.mark.audio

FAST = ["--silence", "2", "--wait", "8"]


def drive_command(audio, args: list[str], steps: list[tuple], env: dict[str, str], pause_before: float = 0.6,
                  timeout: float = 120.0):
    return drive(audio, args, steps, env, pause_before=pause_before, timeout=timeout)


def test_spoken_ripple_is_kept_with_its_audio(virtual_audio, companion_env, tmp_path):
    said = "I took a deeper breath before the meeting."
    wav = espeak_wav(said, tmp_path / "ripple.wav")
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    run = drive_command(virtual_audio, ["ripple", *FAST], [("(listening", wav)], companion_env)
    speaker = recording.stop()
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "Your ripple is kept" in run.stdout
    with Store.open() as store:
        [entry] = [store.get_entry(e["id"]) for e in store.list_entries()]
        audio = store.audio_path(entry)
    assert entry["kind"] == "ripple"
    heard = normalize_words(entry["text"])
    assert {"deeper", "breath", "meeting"} <= set(heard) and word_error_rate(said, entry["text"]) <= 0.6, entry["text"]
    spoken = sf.info(str(wav)).duration
    assert spoken + 0.2 <= sf.info(str(audio)).duration <= spoken + 2.6
    assert (audio.stat().st_mode & 0o777) == 0o600
    assert entry["words"] and entry["engine"] == "whisper"
    samples, _ = sf.read(str(speaker), dtype="float32")
    assert abs(samples).max() > 0.05, "Companion's question and thanks should be heard on the speaker"


def test_spoken_checkin_maps_body_states(virtual_audio, companion_env, tmp_path):
    wav = natural_wav("Tired, and a bit tense in my shoulders.", tmp_path / "checkin.wav")  # base hears espeak's "tense" as "ends" at times
    run = drive_command(virtual_audio, ["checkin", *FAST], [("(listening", wav)], companion_env)
    assert run.returncode == 0, run.stderr
    assert CHECKIN_PROMPT in run.stdout
    with Store.open() as store:
        [entry] = [store.get_entry(e["id"]) for e in store.list_entries()]
        states = store.entry_states(entry["id"])
    assert entry["kind"] == "checkin" and entry["prompt"] == CHECKIN_PROMPT
    assert states == ["tense", "tired"], entry["text"]
    assert entry["extra"]["states"] == ["tired", "tense"]
    assert "shoulders" in entry["extra"]["unknown_words"]  # kept, not forced into a state
    assert "I noted tired and tense" in run.stdout


def test_silent_checkin_keeps_nothing_and_says_so_gently(virtual_audio, companion_env):
    run = drive_command(virtual_audio, ["checkin", "--silence", "2", "--wait", "2"], [], companion_env)
    assert run.returncode == 0, run.stderr
    assert "that's okay" in run.stdout
    with Store.open() as store:
        assert store.list_entries() == []
    assert not list((Path(companion_env["COMPANION_HOME"]) / "audio").glob("**/*.wav"))


def test_spoken_crisis_words_are_saved_then_answered_with_care(virtual_audio, companion_env, tmp_path):
    wav = espeak_wav("Some days I want to die.", tmp_path / "hard.wav")
    run = drive_command(virtual_audio, ["ripple", *FAST], [("(listening", wav)], companion_env)
    assert run.returncode == 0, run.stderr
    with Store.open() as store:
        [entry] = store.list_entries()
    assert {"want", "die"} <= set(normalize_words(entry["text"])), entry["text"]
    out = run.stdout
    assert out.index("Your ripple is kept") < out.index("cannot help in a crisis")
    assert "emergency services" in out and "not a therapist" in out


def test_spoken_session_note_and_spoken_forget(virtual_audio, companion_env, tmp_path):
    note = espeak_wav("We talked about my sister.", tmp_path / "note.wav")
    run = drive_command(virtual_audio, ["session", "--speak", *FAST], [("(listening", note)], companion_env)
    assert run.returncode == 0, run.stderr
    assert "Session marked for" in run.stdout and "Your note is kept with it" in run.stdout
    with Store.open() as store:
        [session] = store.list_sessions()
        store.add_entry("ripple", "a breath on the stairs")
    assert "sister" in session["note"].lower(), session["note"]  # transcribed and kept as text
    home = Path(companion_env["COMPANION_HOME"])
    assert not list(home.glob("**/*.wav")) or all("voice" in p.parts for p in home.glob("**/*.wav"))

    confirm = espeak_wav("Forget everything.", tmp_path / "forget.wav")
    run = drive_command(virtual_audio, ["forget", "--all", "--spoken", *FAST], [("(listening", confirm)], companion_env)
    assert run.returncode == 0, run.stderr
    assert "Everything is forgotten" in run.stdout
    with Store.open() as store:
        assert store.is_empty()


def test_a_reflection_with_crisis_words_is_saved_then_answered_with_care(virtual_audio, companion_env, tmp_path):
    from companion.harness.drive import drive_reflection

    wav = espeak_wav("I want to die.", tmp_path / "hard.wav")
    run = drive_reflection(virtual_audio, [wav], ["--prompt", "How are you?", *FAST], companion_env)
    assert run.returncode == 0, run.stderr
    with Store.open() as store:
        [entry] = store.list_entries()
    assert entry["kind"] == "reflection" and "die" in entry["text"].lower(), entry["text"]
    assert "not a therapist" in run.stdout and run.stdout.index("cannot help in a crisis") < run.stdout.index("Your reflection is saved")
