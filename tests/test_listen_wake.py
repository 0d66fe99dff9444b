"""The wake check as pure logic: the name at the start of what was heard, and lone near-spellings."""

from __future__ import annotations

import numpy as np
from speech_fixtures import espeak_wav
from test_engines import load16k

from companion.events import SAMPLE_RATE
from companion.listen.wake import WakeDetector, sounds_like_name
from companion.understand.intents import called


def test_the_name_must_begin_what_was_said():
    assert called("Companion.") == ""
    assert called("Hey, Companion, help me ground.") == "help me ground"
    assert called("Um companion I noticed I breathed more slowly at work.") == "I noticed I breathed more slowly at work"
    assert called("OK Companion stop") == "stop"
    assert called("I walked with my companion.") is None
    assert called("The company said so.") is None
    assert called("Hey Sage, check in", name="Sage") == "check in"


def test_a_lone_word_close_to_the_name_counts_but_not_a_sentence_or_a_different_word():
    assert sounds_like_name("Comparian.", "companion") and sounds_like_name("Compagnion", "companion")
    assert not sounds_like_name("Compendium", "companion") and not sounds_like_name("Common", "companion")
    assert not sounds_like_name("Comparian told me", "companion")  # only a word said alone
    assert not sounds_like_name("Bompanion", "companion")  # the first sound must agree
    assert sounds_like_name("Hey Comparian.", "companion") and sounds_like_name("K-Comparian", "companion")
    assert not sounds_like_name("Hey there", "companion")


def test_each_voiced_stretch_is_decoded_once_and_silence_never(tmp_path):
    rng = np.random.default_rng(1)
    decoded: list[float] = []

    def decode(audio: np.ndarray) -> str:
        decoded.append(len(audio) / SAMPLE_RATE)
        return "Companion." if len(decoded) == 2 else "Something else."

    detector = WakeDetector(decode, "companion")
    quiet = (0.0005 * rng.standard_normal(3 * SAMPLE_RATE)).astype(np.float32)
    sentence = load16k(espeak_wav("I walked to the river this morning and the water was very calm.", tmp_path / "a.wav"))
    name = load16k(espeak_wav("Companion.", tmp_path / "b.wav"))
    stream = np.concatenate([quiet, sentence, quiet, name, quiet])
    calls = [c for i in range(0, len(stream), 320) if (c := detector.accept(stream[i:i + 320]))]
    assert len(decoded) == detector.checks == 2  # one check per stretch: none in the quiet
    assert decoded[0] <= 2.5  # a long stretch: only its start is looked at
    assert len(calls) == 1 and calls[0].rest == "" and calls[0].pause


def test_listen_install_writes_a_unit_that_runs_this_python_and_uninstall_removes_it(companion_home, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run = subprocess.run([sys.executable, "-m", "companion", "listen", "--install"], capture_output=True, text=True, env=env, timeout=60)
    unit = tmp_path / "config" / "systemd" / "user" / "companion-listen.service"
    assert run.returncode == 0 and str(unit) in run.stdout and "systemctl --user" in run.stdout, run
    assert f"ExecStart={sys.executable} -m companion listen" in unit.read_text()
    run = subprocess.run([sys.executable, "-m", "companion", "listen", "--uninstall"], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0 and not unit.exists()


def test_a_near_name_set_apart_before_a_request_counts_but_not_a_sentence_that_begins_alike():
    from companion.listen.wake import addressed_by_a_near_name as addressed

    assert addressed("Comparian, help me ground.", "companion") == "help me ground"
    assert addressed("Hey Comparian, I noticed something.", "companion") == "I noticed something"
    assert addressed("Compassion is a practice.", "companion") is None  # not set apart as one addresses someone
    assert addressed("Compare them, help me ground.", "companion") is None  # not the name
    assert addressed("Comparian, the weather is nice.", "companion") is None  # not a request
    assert addressed("Comparing, I want to check", "companion") == "I want to check"  # set apart, opens a request
    assert addressed("Comparian help me ground", "companion") == "help me ground"  # a request, not set apart
    assert addressed("Comparing yourself with others rarely helps.", "companion") is None
    assert addressed("Compassion for yourself is not the same.", "companion") is None


def _levels(*runs: tuple[float, int]) -> np.ndarray:
    """Short-term levels: each run a (dB, readings) pair, with a little of the room's wavering."""
    rng = np.random.default_rng(5)
    return np.concatenate([db + rng.uniform(-2, 2, n) for db, n in runs])


def test_a_clearly_louder_voice_is_found_where_it_began_but_not_a_blip_or_the_same_level():
    from companion.listen.wake import ONSET_HOLD, louder_onset

    assert louder_onset(_levels((-30, 100), (-20, ONSET_HOLD))) == 100
    assert louder_onset(_levels((-30, 100), (-20, 3))) is None  # a loud syllable of the room
    assert louder_onset(_levels((-30, 100), (-26, ONSET_HOLD + 4))) is None  # not clearly louder
    assert louder_onset(_levels((-30, 10), (-20, ONSET_HOLD))) is None  # too little to measure it against
    assert louder_onset(_levels((-30, 100), (-20, ONSET_HOLD), (-30, 1))) is None  # already gone


def _noise(rng: np.random.Generator, rms: float, seconds: float) -> np.ndarray:
    return (rms * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def test_louder_voice_reports_the_start_of_a_nearer_voice_and_when_it_fell_back():
    from companion.listen.wake import NAME_PAUSE, ONSET_PRE_ROLL, LouderVoice

    rng = np.random.default_rng(2)
    louder = LouderVoice()
    for part in (_noise(rng, 0.01, 2.0), _noise(rng, 0.04, 0.6)):
        for i in range(0, len(part), 320):
            louder.accept(part[i:i + 320], listening=True)
    assert louder.onset is not None and abs(louder.onset.at - (2.0 - ONSET_PRE_ROLL)) <= 0.06
    assert louder.fell_back_for() == 0.0
    room = _noise(rng, 0.01, NAME_PAUSE + 0.2)
    for i in range(0, len(room), 320):
        louder.accept(room[i:i + 320], listening=True)
    assert louder.fell_back_for() >= NAME_PAUSE


def test_one_voice_going_on_at_its_level_with_gaps_between_words_is_not_a_louder_voice():
    from companion.listen.wake import LouderVoice

    rng = np.random.default_rng(3)
    louder = LouderVoice()
    for _ in range(20):  # words of a quarter of a second, short gaps between them
        for part in (_noise(rng, 0.03, 0.25), _noise(rng, 0.002, 0.1)):
            louder.accept(part, listening=True)
            assert louder.onset is None


def test_a_name_said_louder_over_talk_that_never_pauses_is_checked_from_where_it_began(tmp_path):
    talk = load16k(espeak_wav("The weather turned cold and we lit the stove in the kitchen, then we talked for a "
                              "long time about the garden and the river and the road.", tmp_path / "a.wav"))
    name = load16k(espeak_wav("Companion.", tmp_path / "b.wav"))
    talk_began, said_at = 0.5, 3.5  # stream seconds
    stream = np.concatenate([np.zeros(int(talk_began * SAMPLE_RATE), np.float32), talk, talk])
    stream[int(said_at * SAMPLE_RATE):int(said_at * SAMPLE_RATE) + len(name)] += 4 * name  # 12 dB louder
    detector = WakeDetector(lambda audio: "", "companion")
    windows: list[tuple[float, float]] = []

    def decode(audio: np.ndarray) -> str:
        windows.append((detector.louder.now - len(audio) / SAMPLE_RATE, detector.louder.now))
        return "Companion." if abs(windows[-1][0] - said_at) < 0.25 else "The weather turned cold."

    detector.decode = decode
    calls = [c for i in range(0, len(stream), 320) if (c := detector.accept(stream[i:i + 320]))]
    assert windows[0][0] <= talk_began  # the start of the segment, as always
    assert len(calls) == 1 and calls[0].pause, windows  # the window the louder voice began, once it fell back
    assert len(windows) <= 1 + len(stream) / SAMPLE_RATE / 1.0  # at most one such window a second
