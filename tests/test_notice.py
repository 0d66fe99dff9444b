"""Ripples and check-ins without audio: body-state mapping (pure), crisis words (pure), and the typed
commands end to end through the real CLI and SQLite, including bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from companion.notice.flow import checkin_reply
from companion.store.database import Store
from companion.understand.body_states import (
    BodyStates,
    load_body_vocabulary,
    map_body_states,
    states_phrase,
)
from companion.understand.crisis import (
    CRISIS_NOTE,
    crisis_note_for,
    crisis_phrases,
    crisis_words_in,
)

REQUIRED_STATES = {"open", "tired", "sensitive", "grounded", "tense", "calm", "heavy", "light", "restless", "numb"}


def companion(*args: str, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env or dict(os.environ), input=input,
                          capture_output=True, text=True, timeout=120)


def assert_clear_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    message = result.stderr.strip()
    assert result.returncode != 0, result.stdout
    assert message.startswith("Error: ") and "Hint: " in message and "\n" not in message, message
    for phrase in phrases:
        assert phrase in message, message


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory) -> dict[str, list[str]]:
    return load_body_vocabulary(tmp_path_factory.mktemp("none") / "absent.toml")


def test_the_documented_states_are_all_there(vocabulary):
    assert REQUIRED_STATES <= set(vocabulary)


@pytest.mark.parametrize("said, states, unknown", [
    ("Tired.", ["tired"], []),
    ("tired and a bit tense", ["tired", "tense"], []),
    ("I feel grounded, calm, but my shoulders are tight", ["grounded", "calm", "tense"], ["shoulders"]),
    ("Heavy. Kind of numb, and restless too", ["heavy", "numb", "restless"], []),
    ("worn out", ["tired"], []),
    ("lighter than this morning", ["light"], ["morning"]),
    ("open, sensitive", ["open", "sensitive"], []),
    ("not tired at all, just fizzy", [], ["not tired", "fizzy"]),
    ("tense tense tense", ["tense"], []),
    ("", [], []),
])  # fmt: skip
def test_body_words_map_to_states(vocabulary, said, states, unknown):
    assert map_body_states(said, vocabulary) == BodyStates(states, unknown)


def test_the_state_list_can_be_extended(tmp_path):
    extra = tmp_path / "body_states.toml"
    extra.write_text('[states.fizzy]\nwords = ["fizzing", "sparkly"]\n[states.calm]\nwords = ["mellow"]\n')
    vocabulary = load_body_vocabulary(extra)
    assert map_body_states("fizzy and mellow, sparkly", vocabulary).states == ["fizzy", "calm"]


def test_replies_are_short_and_invitational():
    assert states_phrase(["tired"]) == "tired"
    assert states_phrase(["tired", "tense", "calm"]) == "tired, tense and calm"
    assert checkin_reply(BodyStates(["tired", "calm"], [])) == "Thank you. I noted tired and calm."
    assert checkin_reply(BodyStates([], ["fizzy"])) == "Thank you. Your words are kept as you said them."


@pytest.mark.parametrize("text, found", [
    ("Some days I want to die.", ["want to die"]),
    ("I keep thinking about SUICIDE", ["suicide"]),
    ("I thought I'd kill myself laughing", ["kill myself"]),  # a short list is blunt; the note is gentle
    ("I'm dying to see the new film", []),
    ("the skill I'm learning", []),
    ("I can't go on like this at work", ["cannot go on"]),
])  # fmt: skip
def test_crisis_words_are_whole_word_phrases(text, found):
    assert crisis_words_in(text) == found


def test_crisis_note_wording_and_switch():
    assert len(crisis_phrases()) >= 10
    assert crisis_note_for("I want to die") == CRISIS_NOTE
    assert crisis_note_for("I want to die", enabled=False) is None
    assert crisis_note_for("a calm day") is None
    assert "not a therapist" in CRISIS_NOTE and "emergency services" in CRISIS_NOTE and "saved" in CRISIS_NOTE


def test_typed_ripple_and_checkin(companion_home):
    ripple = companion("ripple", "--text", "I took a deeper breath before the meeting")
    assert ripple.returncode == 0, ripple.stderr
    assert "Your ripple is kept" in ripple.stdout
    checkin = companion("checkin", "--text", "tired and a bit fizzy")
    assert checkin.returncode == 0, checkin.stderr
    assert "I noted tired" in checkin.stdout and "fizzy" in checkin.stdout
    with Store.open() as store:
        first, second = (store.get_entry(e["id"]) for e in store.list_entries())
        assert store.entry_states(second["id"]) == ["tired"]
    assert first["kind"] == "ripple" and first["audio"] is None and first["text"] == "I took a deeper breath before the meeting"
    assert second["kind"] == "checkin" and second["extra"] == {"states": ["tired"], "unknown_words": ["fizzy"]}


def test_crisis_note_after_saving_and_can_be_turned_off(companion_home):
    result = companion("checkin", "--text", "numb, I want to die")
    assert result.returncode == 0
    assert result.stdout.index("I noted numb") < result.stdout.index(CRISIS_NOTE)
    quiet = companion("ripple", "--text", "I want to die", "--no-crisis-note")
    assert quiet.returncode == 0 and CRISIS_NOTE not in quiet.stdout
    off = companion("ripple", "--text", "I want to die", env={**os.environ, "COMPANION_CRISIS_NOTE": "0"})
    assert off.returncode == 0 and CRISIS_NOTE not in off.stdout
    with Store.open() as store:
        assert len(store.list_entries()) == 3  # never blocks saving


def test_sessions_group_the_review(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", "before the session", started_at=datetime.now() - timedelta(hours=1))
    marked = companion("session", "--at", "2020-01-01 10:00", "--note", "first one")
    assert marked.returncode == 0 and "Session marked for 2020-01-01 10:00" in marked.stdout
    now = companion("session")
    assert now.returncode == 0, now.stderr
    assert companion("ripple", "--text", "after the session").returncode == 0
    review = companion("review", "--print")
    assert "you kept one ripple" in review.stdout and "Since your session on" in review.stdout
    everything = companion("review", "--print", "--since", "2019-12-01")
    assert "Since Sunday 1 December 2019, you kept 2 ripples." in everything.stdout
    with Store.open() as store:
        notes = [s["note"] for s in store.list_sessions()]
    assert notes == ["first one", None]


def test_edit_delete_search_forget(companion_home, tmp_path):
    assert companion("ripple", "--text", "I was breathing slowly on the stairs").returncode == 0
    assert companion("ripple", "--text", "A hard meeting").returncode == 0
    audio = companion_home / "audio" / "x.wav"
    audio.parent.mkdir()
    audio.write_bytes(b"RIFF")
    with Store.open() as store:
        store.db.execute("UPDATE entries SET audio = 'audio/x.wav' WHERE id = 2")

    edited = companion("edit", "1", "--text", "I was breathing slowly on the stairs at work")
    assert edited.returncode == 0 and "original is kept" in edited.stdout
    found = companion("search", "breathe", "--kind", "ripple")
    assert found.returncode == 0 and "[breathing]" in found.stdout and "#1" in found.stdout
    assert "Nothing found" in companion("search", "breathe", "--kind", "checkin").stdout
    assert "Nothing found" in companion("search", "breathe", "--until", "2001-01-01").stdout

    deleted = companion("delete", "2", "--yes")
    assert deleted.returncode == 0 and not audio.exists()
    kept = companion("forget", "--all", input="no thanks\n")
    assert kept.returncode == 0 and "Nothing was deleted" in kept.stdout
    with Store.open() as store:
        [entry] = [store.get_entry(e["id"]) for e in store.list_entries()]
    assert entry["original_text"] == "I was breathing slowly on the stairs" and entry["text"].endswith("at work")
    shown = companion("show", "1")
    assert "Before your correction: I was breathing slowly on the stairs" in shown.stdout

    gone = companion("forget", "--all", input="forget everything\n")
    assert gone.returncode == 0 and "Everything is forgotten" in gone.stdout
    with Store.open() as store:
        assert store.is_empty()


def test_bad_input_is_one_calm_line(companion_home):
    assert companion("ripple", "--text", "kept safe").returncode == 0
    assert_clear_error(companion("ripple", "--text", "   "), "empty")
    assert_clear_error(companion("checkin", "--text", ""), "empty")
    assert_clear_error(companion("session", "--at", "next tuesday"), "not a date")
    assert_clear_error(companion("session", "--at", "2999-01-01"), "still ahead")
    assert_clear_error(companion("review", "--print", "--since", "yesterday-ish"), "not a date")
    assert_clear_error(companion("search", "x", "--since", "soon"), "not a date")
    assert_clear_error(companion("edit", "42", "--text", "x"), "no entry with id 42")
    assert_clear_error(companion("edit", "1", "--text", "  "), "empty")
    assert_clear_error(companion("delete", "42", "--yes"), "no entry with id 42")
    assert_clear_error(companion("play", "1"), "no recording")
    assert_clear_error(companion("play", "42"), "no entry with id 42")
    assert_clear_error(companion("forget"), "what to forget")
    with Store.open() as store:
        [entry] = store.list_entries()
    assert entry["text"] == "kept safe"  # nothing stored was lost


@pytest.mark.parametrize("answer, spoken, ok", [
    ("forget everything", False, True),
    ("Forget everything.", True, True),
    ("Forget everything. Thank you.", True, True),
    ("forget everything please", False, False),
    ("don't forget everything", True, False),
    ("no, do not forget everything", True, False),
    ("forget", True, False),
    ("", True, False),
])  # fmt: skip
def test_forget_confirmation(answer, spoken, ok):
    from companion.cli.data import FORGET_PHRASE, confirms

    assert confirms(answer, FORGET_PHRASE, spoken) is ok
