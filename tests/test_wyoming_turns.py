"""The Home Assistant (Wyoming) service without the protocol: the turns of a conversation (pure), the
answers on a real store, the address it may listen on, and the command's one-line refusals. None of
this needs the `wyoming` extra."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from companion.assistants.actions import ASK_RIPPLE, NOTHING_HEARD, REFLECTION_CLOSING, REFLECTION_OPENING
from companion.assistants.wyoming.address import DEFAULT_URI, exposure, parse_address
from companion.assistants.wyoming.service import SOURCE, Companion
from companion.assistants.wyoming.turns import (
    STOPPED_REFLECTION, Awaiting, Conversations, Reflection, decide,
)
from companion.errors import CompanionError
from companion.store.database import Store
from companion.understand.crisis import CRISIS_NOTE
from companion.understand.intents import understand

QUESTIONS = ["What felt important today?", "What is still with me?", "What do I want to notice?"]


def turn(text, state=None, crisis=lambda _: False):
    return decide(text, state, QUESTIONS, understand, crisis)


def test_a_ripple_in_one_sentence_is_kept_and_one_without_words_is_asked_for():
    said = turn("I noticed I didn't apologise today")
    assert (said.effect, said.words, said.state) == ("ripple", "I didn't apologise today", None)
    asked = turn("I noticed something")
    assert (asked.effect, asked.say, asked.state) == ("say", ASK_RIPPLE, Awaiting("ripple"))
    then = turn("my shoulders dropped at lunch", asked.state)
    assert (then.effect, then.words, then.state) == ("ripple", "my shoulders dropped at lunch", None)
    assert turn("never mind", asked.state).effect == "say"


def test_a_reflection_goes_question_by_question_and_keeps_what_was_said():
    state = turn("I'm back from therapy").state
    assert state == Reflection(tuple(QUESTIONS))
    assert turn("reflect").say == f"{REFLECTION_OPENING} {QUESTIONS[0]}"
    first = turn("Being listened to.", state)
    assert (first.say, first.state.answers) == (QUESTIONS[1], ((QUESTIONS[0], "Being listened to."),))
    assert turn("   ", first.state).state == first.state  # nothing said: the same question again
    skipped = turn("skip", first.state)
    last = turn("When I hold my breath", skipped.state)
    assert last.effect == "reflection" and last.state is None
    assert last.answers == ((QUESTIONS[0], "Being listened to."), (QUESTIONS[1], ""), (QUESTIONS[2], "When I hold my breath"))
    stopped = turn("stop", first.state)
    assert (stopped.effect, stopped.say, stopped.answers) == ("reflection", STOPPED_REFLECTION, first.state.answers)


def test_words_that_call_for_the_crisis_note_end_a_reflection_there():
    state = turn("reflect").state
    ended = turn("I want to die", state, crisis=lambda words: "die" in words)
    assert (ended.effect, ended.crisis, ended.state) == ("reflection", True, None)


def test_other_requests_pass_through_to_their_effects():
    assert turn("I had my session today").effect == "session"
    assert turn("what did I notice").request.kind == "ripple"
    assert turn("help me ground").effect == "practice"
    unknown = turn("what's the weather")
    assert unknown.effect == "say" and unknown.say.startswith("I'm not sure I understood")


def test_conversations_are_forgotten_after_some_minutes_and_stale_reflections_handed_back():
    now = [0.0]
    held = Conversations(minutes=10, clock=lambda: now[0])
    held.put("a", Reflection(("Q",)))
    held.put("b", Awaiting("ripple"))
    now[0] = 9 * 60
    assert held.get("a") == Reflection(("Q",))
    held.put("b", Awaiting("ripple"))  # a turn keeps it fresh
    now[0] = 11 * 60
    assert held.get("a") is None and held.stale() == [Reflection(("Q",))]
    assert held.all() == [Awaiting("ripple")] and held.all() == []


def test_the_service_keeps_entries_as_heard_by_home_assistant(companion_home):
    companion = Companion(QUESTIONS)
    assert companion.answer("I noticed I breathed slower", "c1") == "Thank you. Your ripple is kept."
    assert companion.answer("reflect", "c2").endswith(QUESTIONS[0])
    assert companion.answer("check in: tired and a bit open", "c3").startswith("Thank you. I noted")
    assert companion.answer("Being listened to", "c2") == QUESTIONS[1]
    assert companion.answer("skip", "c2") == QUESTIONS[2]
    assert companion.answer("When I hold my breath", "c2") == REFLECTION_CLOSING
    with Store.open() as store:
        kept = store.list_entries()
        assert {e["engine"] for e in kept} == {SOURCE} and all(e["audio"] is None for e in kept)
        assert sorted(e["kind"] for e in kept) == ["checkin", "reflection", "reflection", "ripple"]
        assert len(store.list_reflections()) == 1


def test_a_reflection_left_quiet_or_open_when_the_server_stops_is_kept_as_far_as_it_went(companion_home):
    now = [0.0]
    companion = Companion(QUESTIONS, clock=lambda: now[0])
    companion.answer("reflect", "quiet")
    companion.answer("Being listened to", "quiet")
    companion.answer("reflect", "open")
    companion.answer("A lot of tiredness", "open")
    now[0] = 11 * 60
    assert companion.answer("reflect", "quiet").endswith(QUESTIONS[0])  # a new one begins; the old one is kept
    with Store.open() as store:
        assert [e["text"] for e in store.list_entries(kind="reflection")] == ["Being listened to", "A lot of tiredness"]
    companion.close()
    with Store.open() as store:
        assert len(store.list_reflections()) == 2  # the empty new one keeps nothing


def test_the_crisis_note_follows_keeping_and_an_empty_reflection_keeps_nothing(companion_home):
    companion = Companion(QUESTIONS)
    companion.answer("reflect", "a")
    assert companion.answer("I want to end my life", "a") == CRISIS_NOTE
    companion.answer("reflect", "b")
    for _ in QUESTIONS:
        last = companion.answer("skip", "b")
    assert last == NOTHING_HEARD
    with Store.open() as store:
        assert [e["text"] for e in store.list_entries()] == ["I want to end my life"]


def test_a_practice_is_answered_with_its_first_words_and_the_way_to_the_timed_one(companion_home):
    said = Companion(QUESTIONS).answer("help me ground", "p")
    assert said.startswith("For a minute, there is nothing you need to do.")
    assert said.endswith("companion ground allow-rest leads it with timed breaths.")
    assert Companion(QUESTIONS).answer("box breathing please", "p").startswith("Box breathing.")


def test_only_this_computer_unless_asked_and_then_said_plainly():
    assert parse_address(DEFAULT_URI).remote is False
    assert parse_address("tcp://[::1]:10700").remote is False
    assert parse_address("unix:///run/user/1000/companion.sock").path == "/run/user/1000/companion.sock"
    with pytest.raises(CompanionError, match="not this computer only"):
        parse_address("tcp://0.0.0.0:10700")
    with pytest.raises(CompanionError, match="unix://PATH or tcp://HOST:PORT"):
        parse_address("http://127.0.0.1:10700")
    anywhere = parse_address("tcp://0.0.0.0:10700", allow_remote=True)
    assert "every network" in exposure(anywhere) and "hear what was kept" in exposure(anywhere)


def _serve(*args: str, block_wyoming: bool = False) -> subprocess.CompletedProcess:
    code = ("import sys\nif sys.argv[1] == 'block': sys.modules['wyoming'] = None\n"
            "sys.argv = ['companion', *sys.argv[2:]]\nfrom companion.cli import main\nmain()")
    return subprocess.run([sys.executable, "-c", code, "block" if block_wyoming else "-", "serve", "wyoming", *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ), stdin=subprocess.DEVNULL)


def test_a_remote_address_is_refused_in_one_line(companion_home):
    result = _serve("--uri", "tcp://0.0.0.0:10700")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: 0.0.0.0 is not this computer only: anyone who can reach it could talk to Companion. "
        "Hint: use --uri tcp://127.0.0.1:10700, or add --allow-remote if you mean it"]


def test_without_the_extra_the_command_says_how_to_install_it(companion_home):
    result = _serve(block_wyoming=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "pip install 'companion[wyoming]'" in result.stderr and "scripts/setup.sh --extras wyoming" in result.stderr
