"""The small moments a newcomer meets, each through the real `companion` command: confirmations seen
in a terminal, control words only on their own, speech over a question kept, Ctrl-C keeping the
answer, a config typo that stops nothing it does not concern, voices, body states, the review,
wording. Terminal behaviour is checked in a real pseudo-terminal (tests/terminal.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import pytest
import soundfile as sf
from speech_fixtures import espeak_wav, librivox_utterances, natural_wav
from terminal import ESCAPES, run_in_terminal

from companion.harness.drive import LISTENING_MARK, drive_command
from companion.store.database import Store
from companion.store.pending import pending_answers
from companion.textnorm import normalize_words, word_error_rate

FAST = ["--silence", "2.5", "--wait", "8", "--no-crisis-note"]


def companion(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def entries(kind: str | None = None) -> list[dict]:
    with Store.open() as store:
        return [store.get_entry(e["id"]) for e in store.list_entries(kind=kind)]


# --- confirmations in a terminal ----------------------------------------------------------------------


def test_a_delete_asks_where_it_can_be_seen_and_no_deletes_nothing(companion_home):
    assert companion("ripple", "--text", "My shoulders dropped on the way home.").returncode == 0
    env = dict(os.environ)
    screen = run_in_terminal(["delete", "1"], env, [("Delete this entry?", "n")])
    assert "Delete this entry? [y/N]:" in screen.text, screen.output
    assert "Nothing was deleted." in screen.text and screen.returncode == 0, screen.output
    assert "Stopped" not in screen.text
    assert [e["text"] for e in entries()] == ["My shoulders dropped on the way home."]
    screen = run_in_terminal(["delete", "1"], env, [("Delete this entry?", "y")])
    assert "#1 deleted." in screen.text and screen.returncode == 0 and entries() == []


def test_forget_asks_where_it_can_be_seen(companion_home):
    assert companion("ripple", "--text", "A deeper breath.").returncode == 0
    env = dict(os.environ)
    question = 'Type "forget everything" to go on:'
    screen = run_in_terminal(["forget", "--all"], env, [(question, "no thanks")])
    assert question in screen.text and "Nothing was deleted." in screen.text and screen.returncode == 0
    assert len(entries()) == 1
    screen = run_in_terminal(["forget", "--all"], env, [(question, "forget everything")])
    assert "Everything is forgotten" in screen.text and screen.returncode == 0 and entries() == []


# --- control words and speech over a question (real audio) ------------------------------------------


@pytest.mark.audio
def test_next_inside_a_sentence_does_not_end_the_answer(companion_env, tmp_path, virtual_audio):
    first = natural_wav("I wonder what happens next.", tmp_path / "first.wav")
    rest = natural_wav("But I also feel a little lighter.", tmp_path / "rest.wav")
    done = natural_wav("I'm done.", tmp_path / "done.wav", rate=140)
    # each clip after the one before it has been played: 1.5 s of thinking, then the rest
    steps = [(LISTENING_MARK, first), ("(1/2)", rest, 1.5), ("What felt important", done, 1.0)]
    run = drive_command(virtual_audio, ["reflect", "--prompt", "What felt important today?", "--prompt",
                                        "What do I want to notice?", *FAST], steps, companion_env, timeout=120)
    assert run.returncode == 0, (run.stdout, run.stderr)
    [entry] = entries("reflection")
    said = "I wonder what happens next but I also feel a little lighter"
    assert word_error_rate(said, entry["text"]) <= 0.2, entry["text"]
    kept = normalize_words(entry["text"])
    assert "next" in kept and "also" in kept and kept.index("next") < kept.index("also"), entry["text"]
    assert kept[-1] != "done"  # "I'm done" on its own ended the sitting
    assert "(2/2)" not in run.stdout


@pytest.mark.audio
def test_speaking_over_the_next_question_goes_on_with_the_last_answer(companion_env, tmp_path, virtual_audio):
    first = espeak_wav("I talked about my sister.", tmp_path / "first.wav", speed=140)
    more = espeak_wav("And about my father, which was hard.", tmp_path / "more.wav", speed=140)
    second, reference = librivox_utterances()[2]
    question = "What sensations or emotions are still with me, right now, as you sit here?"
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    # the second answer's words come while Companion reads the (long) second question
    steps = [(LISTENING_MARK, first), ("(2/2)", more, 0.9), (LISTENING_MARK, second)]
    run = drive_command(virtual_audio, ["reflect", "--prompt", "What felt important today?", "--prompt", question,
                                        *FAST], steps, companion_env, timeout=150)
    recording.stop()
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert "(added to your last answer)" in run.stdout, run.stdout
    first_entry, second_entry = entries("reflection")
    assert word_error_rate("I talked about my sister and about my father which was hard", first_entry["text"]) <= 0.35, first_entry["text"]
    assert "father" in first_entry["text"] and "sister" in first_entry["text"]
    assert "still listening - your last answer goes on" in run.stdout
    assert word_error_rate(reference, second_entry["text"]) <= 0.2, second_entry["text"]
    assert second_entry["prompt"] == question
    # one recording holds the whole first answer, and its words lie within it, in order
    with Store.open() as store:
        audio = store.audio_path(first_entry)
    assert sf.info(str(audio)).duration == pytest.approx(first_entry["duration"], abs=0.02)
    starts = [w["start"] for w in first_entry["words"]]
    assert starts == sorted(starts) and first_entry["words"][-1]["end"] <= first_entry["duration"] + 0.05
    assert len(list(audio.parent.glob("*.wav"))) == 2  # the parts were joined, not left beside it
    assert pending_answers() == []
    # the question was cut as soon as the person spoke, then asked again whole
    assert run.stdout.count(question) == 2


# --- Ctrl-C and interrupted answers ------------------------------------------------------------------


@pytest.mark.audio
def test_ctrl_c_mid_answer_stores_what_was_said(companion_env, virtual_audio):
    wav, reference = librivox_utterances()[0]  # 7.1 s

    def interrupt(proc: subprocess.Popen) -> None:
        def later() -> None:
            while proc.poll() is None and not marks:
                time.sleep(0.05)
            time.sleep(0.8 + 5.0)  # 5 s into the answer
            proc.send_signal(signal.SIGINT)
        threading.Thread(target=later, daemon=True).start()

    marks: list[float] = []
    run = drive_command(virtual_audio, ["reflect", "--prompt", "What felt important today?", *FAST],
                        [(LISTENING_MARK, wav)], companion_env, on_start=interrupt,
                        on_mark=lambda marker, at: marks.append(at))
    assert run.returncode == 130, (run.stdout, run.stderr)
    assert run.stderr.strip().endswith("Stopped. What you said is saved."), run.stderr
    assert "Traceback" not in run.stderr
    assert pending_answers() == []  # stored at once, not left for later
    listed = companion("list", env=companion_env)
    assert listed.returncode == 0 and "cut off" not in listed.stderr
    [entry] = entries("reflection")
    assert f"#{entry['id']}" in listed.stdout
    kept = normalize_words(entry["text"])[:-1]  # the word the interruption cut in two may be heard as another
    assert len(kept) >= 6 and sum(w in set(normalize_words(reference)) for w in kept) / len(kept) >= 0.8, entry["text"]


@pytest.mark.audio
def test_list_stores_an_answer_that_was_cut_off(companion_env, virtual_audio):
    wav, reference = librivox_utterances()[0]

    def kill(proc: subprocess.Popen) -> None:
        def later() -> None:
            while proc.poll() is None and not marks:
                time.sleep(0.05)
            time.sleep(0.8 + 4.0)
            proc.send_signal(signal.SIGKILL)
        threading.Thread(target=later, daemon=True).start()

    marks: list[float] = []
    run = drive_command(virtual_audio, ["ripple", *FAST], [(LISTENING_MARK, wav)], companion_env, on_start=kill,
                        on_mark=lambda marker, at: marks.append(at))
    assert run.returncode == -signal.SIGKILL
    assert len(pending_answers()) == 1 and entries() == []
    listed = companion("list", env=companion_env)
    assert listed.returncode == 0, listed.stderr
    assert "cut off before it was saved" in listed.stderr  # stderr: `export` to stdout stays clean
    [entry] = entries("ripple")
    assert f"#{entry['id']}" in listed.stdout and pending_answers() == []
    assert len(normalize_words(entry["text"])) >= 4, entry["text"]


def test_an_answer_being_recorded_is_left_alone_by_another_window(companion_home):
    """The marker of an answer still being recorded is locked: another Companion leaves it alone."""
    from companion.store.pending import (
        Pending,
        clear_pending,
        in_progress,
        mark_pending,
    )

    folder = companion_home / "audio" / "2026-12"
    folder.mkdir(parents=True)
    audio = folder / "ripple-test.wav"
    audio.write_bytes(b"RIFF" + bytes(40) + bytes(16000))
    script = ("import sys, time\nfrom pathlib import Path\nfrom companion.store.pending import Pending, mark_pending\n"
              f"mark_pending(Path({str(audio)!r}), Pending('ripple', None, '2026-12-01T10:00:00+00:00'))\n"
              "print('held', flush=True)\ntime.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        [marker] = pending_answers()
        assert in_progress(marker)
        listed = companion("list")
        assert listed.returncode == 0 and entries() == [] and pending_answers() == [marker]
    finally:
        holder.kill()
        holder.wait()
    assert not in_progress(marker)  # a process that dies lets go of it
    mark_pending(audio, Pending("ripple", None, "2026-12-01T10:00:00+00:00"))
    assert in_progress(marker)  # this process's own
    clear_pending(audio)
    assert pending_answers() == []


# --- config, voice, greeting, limits, wording ---------------------------------------------------------


SHORT_PRACTICE = """
name = "one-breath"
description = "One line and one breath."
[[steps]]
say = "Hello."
[[steps]]
breathe = [{inhale = 2}, {exhale = 2}]
cycles = 1
"""


@pytest.mark.audio
def test_a_typo_in_the_config_never_stops_grounding(companion_env, companion_home):
    (companion_home / "practices").mkdir()
    (companion_home / "practices" / "one-breath.toml").write_text(SHORT_PRACTICE)
    config = companion_home / "config.toml"
    config.write_text("[reflect]\nsilense = 5\nsilence = -3\n[colour]\nscheme = 'dark'\n")
    run = companion("ground", "one-breath", "--no-listen", "--cues", "tones", env=companion_env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Note: the setting 'silense' in [reflect]" in run.stderr and "did you mean 'silence'?" in run.stderr
    assert "Note: the section [colour]" in run.stderr and "Traceback" not in run.stderr
    doctor = companion("doctor", env=companion_env)
    assert "fix  config" in doctor.stdout and "'silence' in [reflect]" in doctor.stdout, doctor.stdout
    assert "ok   microphone" in doctor.stdout
    reflect = companion("reflect", env=companion_env)  # the command that uses 'silence' stops, in one line
    assert reflect.returncode == 1 and "Error: 'silence' in [reflect]" in reflect.stderr
    assert "outside 1 to 60" in reflect.stderr and entries() == []
    assert companion("reflect", "--silence", "3", "--wait", "1", "--prompt", "How am I?", env=companion_env).returncode == 0


@pytest.mark.audio
def test_a_voice_that_is_not_english_is_said_and_an_unknown_one_refused(companion_env):
    doctor = companion("doctor", "--voice", "klingon", env=companion_env)
    assert doctor.returncode == 1 and "fix  voice" in doctor.stdout and "Klingon" in doctor.stdout, doctor.stdout
    ripple = companion("ripple", "--voice", "klingon", "--wait", "1", env=companion_env)
    assert ripple.returncode == 0 and "Note: the voice 'klingon' is espeak-ng's Klingon voice" in ripple.stderr
    unknown = companion("ripple", "--voice", "no-such-voice", "--wait", "1", env=companion_env)
    assert unknown.returncode == 1 and "Error: there is no voice called 'no-such-voice'" in unknown.stderr
    assert "en-gb" in unknown.stderr and unknown.stderr.count("\n") == 1


def test_companion_alone_greets_and_shows_the_everyday_commands(companion_home):
    run = companion()
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith("Hello.") and "companion reflect" in run.stdout and "companion ground" in run.stdout
    assert "not a therapist" in run.stdout and "Usage" not in run.stdout


def test_help_groups_commands_by_what_a_person_does(companion_home):
    text = companion("--help").stdout
    headings = [line.rstrip(":") for line in text.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings[1:] == ["Hands-free", "Reflect", "Ground", "Notice", "Review", "Your data", "Set-up"], headings
    assert text.index("reflect ") < text.index("ground ") < text.index("ripple ") < text.index("review ")
    assert "Usage: companion " in text
    for command in ("reflect", "ground", "review", "search", "list", "checkin"):
        shown = companion(command, "--help").stdout
        assert "<=x<=" not in shown and "RANGE" not in shown, shown
    reflect = companion("reflect", "--help").stdout
    assert '"next"' in reflect and '"skip"' in reflect and "I'm done" in reflect and "pauses" in reflect


@pytest.mark.parametrize("args, message, code", [
    (["list", "--limit", "-2"], "Error: --limit takes a whole number of entries, 1 or more, not -2.", 2),
    (["list", "--limit", "0"], "Error: --limit takes a whole number of entries, 1 or more, not 0.", 2),
    (["ground", "--minutes", "100000"], "Error: --minutes takes between half a minute and an hour, not 100000.", 2),
    (["reflect", "--silence", "0"], "Error: --silence takes from 1 to 60 seconds, not 0.", 2),
    (["show", "abc"], "Error: 'abc' is not an entry id. Hint: ids are whole numbers", 2),
])  # fmt: skip
def test_limits_and_ids_in_plain_words(companion_home, args, message, code):
    run = companion(*args)
    assert run.returncode == code and run.stderr.startswith(message), run.stderr
    assert "Invalid value" not in run.stderr and "<=" not in run.stderr and run.stderr.count("\n") == 1


def test_plain_words_for_files_and_models(companion_home, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Not a recording.\n")
    run = companion("import", str(note))
    assert run.returncode == 6 and "is not an audio file Companion can read" in run.stderr
    assert "Error)" not in run.stderr and "InvalidData" not in run.stderr
    models = companion("models")
    assert "whisper  whisper-tiny.en  (built in" in models.stdout and "site-packages" not in models.stdout


# --- body states, crisis words, the review, sessions ------------------------------------------------


def test_a_checkin_notes_the_states_said_and_never_reads_crisis_words_back(companion_home):
    run = companion("checkin", "--text", "I feel still a little shaky")
    assert run.returncode == 0 and "I noted shaky." in run.stdout and "calm" not in run.stdout, run.stdout
    crisis = companion("checkin", "--text", "I want to die, and I am tired and heavy")
    assert crisis.returncode == 0 and "not a therapist" in crisis.stdout
    assert "Also kept" not in crisis.stdout and "die" not in crisis.stdout.replace("I want to die", "")
    assert entries()[-1]["text"] == "I want to die, and I am tired and heavy"  # the words stay in the entry


def test_the_review_names_states_plainly_and_includes_ripples_and_checkins(companion_home):
    with Store.open() as store:
        store.add_session(datetime.now() - timedelta(days=2))
    for text in ("calm", "heavy", "light"):
        assert companion("checkin", "--text", text).returncode == 0
    assert companion("ripple", "--text", "I took a deeper breath before the meeting.").returncode == 0
    review = companion("review", "--print")
    assert review.returncode == 0, review.stderr
    assert "The body states you named: calm, heavy and light." in review.stdout, review.stdout
    assert "most" not in review.stdout
    assert "Ripples you noticed" in review.stdout and "I took a deeper breath before the meeting." in review.stdout
    assert "Body check-ins" in review.stdout and ": heavy" in review.stdout
    assert companion("checkin", "--text", "heavy again").returncode == 0
    assert "You named heavy most often, and also calm and light." in companion("review", "--print").stdout


def test_marking_an_older_session_says_what_the_review_will_gather(companion_home):
    assert companion("session").returncode == 0
    older = companion("session", "--at", "2026-11-24 16:30")
    assert older.returncode == 0
    assert "A later session is marked" in older.stdout and "--since 2026-11-24" in older.stdout
    assert "will gather everything since then" not in older.stdout


# --- the terminal: list, play, grounding ----------------------------------------------------------------


def test_list_fits_the_terminal_with_the_persons_words_first(companion_home):
    long = ("I noticed that my shoulders dropped when I walked home from work in the evening light and I "
            "felt much better than I expected to feel")
    with Store.open() as store:
        store.add_entry("reflection", long, prompt="What sensations or emotions are still with me?")
        store.add_entry("ripple", "A short one.")
    screen = run_in_terminal(["list"], dict(os.environ), columns=60)
    lines = [line for line in screen.text.splitlines() if line.startswith("#")]
    assert len(lines) == 2 and all(len(line) <= 60 for line in lines), lines
    assert "I noticed that my shoulders" in lines[0] and lines[0].endswith("…") and "What sensations" not in lines[0]
    assert lines[0][:-1].split()[-1] in long.split()  # cut after a whole word
    wide = run_in_terminal(["list"], dict(os.environ), columns=240)
    assert "(What sensations or emotions are still with me?)" in wide.text


@pytest.mark.audio
def test_play_wraps_the_answer_and_lights_the_corrected_words(companion_env, companion_home, virtual_audio):
    wav, _ = next((w, t) for w, t in librivox_utterances() if w.stem.endswith("0870"))
    assert companion("import", str(wav), env=companion_env).returncode == 0
    [entry] = entries()
    said = entry["text"].split()
    corrected = " ".join(said[:-1] + ["MENDED"])
    assert companion("edit", str(entry["id"]), "--text", corrected, env=companion_env).returncode == 0
    screen = run_in_terminal(["play", str(entry["id"])], companion_env, columns=40, timeout=60)
    assert screen.returncode == 0, screen.output
    lit = [part.split("\x1b[0m")[0] for part in screen.output.split("\x1b[7m")[1:]]
    lit = [ESCAPES.sub("", part) for part in lit]
    assert "MENDED" in lit and said[-1] not in lit, lit  # the correction's words, lit as they are heard
    assert lit.index("MENDED") > len(lit) // 2 and lit[0] == said[0]
    final = [line for line in screen.shown() if line.strip()]
    assert final[0].startswith("#") and all(line.startswith("  ") for line in final[1:]), final
    assert " ".join(final[1:]).split() == corrected.split(), final  # wrapped in place, every word kept


@pytest.mark.audio
def test_grounding_shows_the_breath_says_the_commands_and_fits_its_length(companion_env, companion_home, tmp_path,
                                                                           virtual_audio, whisper):
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    screen = run_in_terminal(["ground", "allow-rest", "--minutes", "0.5", "--cues", "tones"], companion_env,
                             timeout=120)
    speaker = recording.stop()
    assert screen.returncode == 0, screen.output
    assert "Breathing in · breath 1 of" in screen.text and "Breathing out · breath 1 of" in screen.text
    assert "For half a minute, there is nothing you need to do." in screen.text
    assert "For the next minute" not in screen.text
    samples, rate = sf.read(str(speaker), dtype="float32")
    heard = " ".join(t.text for t in whisper.transcribe(samples[: int(20 * rate)])).lower()
    assert "pause" in heard and "stop" in heard, heard  # the commands are said, not only shown
    with Store.open() as store:
        store.db["practice_runs"].insert_all([{"practice": "x", "started_at": "2026-11-01T10:00:00+00:00",
                                                "outcome": "finished"}] * 3)
    (companion_home / "practices").mkdir()
    (companion_home / "practices" / "one-breath.toml").write_text(SHORT_PRACTICE)
    again = run_in_terminal(["ground", "one-breath", "--cues", "tones"], companion_env, timeout=120)
    assert again.returncode == 0 and "You can ask me to pause" not in again.text
    assert "You can say pause, continue" in again.text  # shown only, after the first few practices


@pytest.mark.audio
def test_a_practice_named_while_the_list_is_read_is_chosen(companion_env, tmp_path, virtual_audio):
    name = espeak_wav("Hand on chest.", tmp_path / "name.wav", speed=150)
    # "Which practice would you like?" is printed before it is spoken: the name is said 2.5 s into the list
    run = drive_command(virtual_audio, ["ground", "--minutes", "0.5", "--cues", "tones"],
                        [("Which practice would you like?", name, 2.5)], companion_env, timeout=150)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert "  A hand on the chest" in run.stdout, run.stdout
    with Store.open() as store:
        from companion.practice.records import list_runs

        [practice] = list_runs(store)
    assert practice["practice"] == "hand-on-chest"


# --- backups with the recordings ---------------------------------------------------------------------


def test_a_backup_can_hold_the_recordings(companion_home, tmp_path):
    wav, _ = librivox_utterances()[0]
    assert companion("import", str(wav)).returncode == 0
    plain = companion("backup")
    assert plain.returncode == 0 and "--with-recordings" in plain.stdout
    folder = tmp_path / "whole"
    whole = companion("backup", "--with-recordings", str(folder))
    assert whole.returncode == 0 and "1 recording(s)" in whole.stdout, whole.stdout
    [entry] = entries()
    copied = folder / entry["audio"]
    assert copied.read_bytes() == (companion_home / entry["audio"]).read_bytes()
    assert (copied.stat().st_mode & 0o777) == 0o600 and (folder.stat().st_mode & 0o777) == 0o700
    with Store.open(folder / "companion.db") as store:
        assert [e["text"] for e in store.list_entries()] == [entry["text"]]
    again = companion("backup", "--with-recordings", str(folder))
    assert again.returncode == 5 and "is not an empty folder" in again.stderr
    helps = companion("export", "--help").stdout + companion("backup", "--help").stdout
    assert "recordings named by their path" in " ".join(helps.split()) and "not the recordings" in helps


@pytest.fixture(scope="module")
def whisper():
    from companion.speech import models

    return models.load(models.embedded_model())


@pytest.mark.audio
def test_a_narrow_terminal_wraps_what_companion_says_at_words(companion_env, companion_home, virtual_audio):
    """The opening and a long question in a 44-column terminal: every line fits, no word is cut in two."""
    from companion.reflect.opening import OPENING, how_many_questions

    question = "What sensations or emotions are still with me, right now, as you sit here?"
    screen = run_in_terminal(["reflect", "--prompt", question, "--wait", "2", "--silence", "2", "--no-crisis-note"],
                             companion_env, columns=44, rows=40, timeout=90)
    assert screen.returncode == 0, screen.output
    lines = [line for line in screen.shown() if line.strip()]
    assert all(len(line) < 44 for line in lines), lines
    shown = " ".join(line.strip() for line in lines)
    assert OPENING.format(count=how_many_questions(1)) in shown, lines
    assert f"(1/1) {question}" in shown, lines
