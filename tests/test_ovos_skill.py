"""The OpenVoiceOS skill without a running assistant, as OpenVoiceOS's own skills are tested: a FakeBus,
the skill's `_startup`, an utterance in, the `speak` messages out and the rows in a real database."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ovos_workshop", reason="the OpenVoiceOS extra is not installed (pip install '.[ovos]')")

import companion.assistants.ovos.skill as ovos_skill  # noqa: E402
from companion.assistants import actions  # noqa: E402
from companion.assistants.ovos import cues  # noqa: E402
from companion.listen.requests import understand_request  # noqa: E402
from companion.practice.model import find  # noqa: E402
from companion.practice.records import list_runs  # noqa: E402
from companion.store.database import Store  # noqa: E402
from companion.understand.crisis import CRISIS_NOTE  # noqa: E402
from ovos_bus_client.message import Message  # noqa: E402
from ovos_utils.fakebus import FakeBus  # noqa: E402

SKILL_ID = ovos_skill.SKILL_ID
LOCALE = Path(ovos_skill.__file__).parent / "locale" / "en-us"


class Assistant:
    """The skill on a FakeBus, and what it sent."""

    def __init__(self) -> None:
        self.bus = FakeBus()
        self.sent: list[dict] = []
        self.bus.on("message", lambda raw: self.sent.append(json.loads(raw)))
        self.skill = ovos_skill.CompanionSkill()
        self.skill._startup(self.bus, SKILL_ID)

    def spoken(self) -> list[str]:
        return [m["data"]["utterance"] for m in self.sent if m["type"] == "speak"]

    def count(self, kind: str) -> int:
        return sum(m["type"] == kind for m in self.sent)

    def wait_for(self, kind: str, n: int = 1, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.count(kind) < n:
            assert time.monotonic() < deadline, f"no {kind} (sent: {[m['type'] for m in self.sent]})"
            time.sleep(0.02)

    def say(self, intent: str, utterance: str, answers: list[str] = ()) -> None:
        """The intent the assistant chose for `utterance`; each of `answers` given when the skill listens."""
        self.sent.clear()
        handler = threading.Thread(target=self.bus.emit, args=(Message(f"{SKILL_ID}:{intent}.intent", {"utterance": utterance}),))
        handler.start()
        for n, answer in enumerate(answers, 1):
            self.wait_for(f"{SKILL_ID}.get_response.waiting", n)
            self.bus.emit(Message(f"{SKILL_ID}.converse.get_response", {"utterances": [answer]}))
        handler.join(timeout=30)
        assert not handler.is_alive()


@pytest.fixture
def assistant(companion_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))  # the skill's settings file goes there
    monkeypatch.delenv("COMPANION_PASSPHRASE", raising=False)
    a = Assistant()
    yield a
    a.skill.stop()
    a.skill.default_shutdown()


def test_a_ripple_said_in_one_sentence_is_kept_without_audio(assistant):
    assistant.say("ripple", "I noticed I didn't apologise today")
    assert assistant.spoken() == ["Thank you. Your ripple is kept."]
    with Store.open() as store:
        [entry] = store.list_entries()
    assert (entry["kind"], entry["text"], entry["engine"], entry["audio"]) == ("ripple", "I didn't apologise today", "ovos", None)


def test_a_ripple_asked_for_is_kept_as_answered(assistant):
    assistant.say("ripple", "note a ripple", answers=["my shoulders dropped at lunch"])
    assert assistant.spoken() == [actions.ASK_RIPPLE, "Thank you. Your ripple is kept."]
    with Store.open() as store:
        assert [(e["text"], e["engine"]) for e in store.list_entries()] == [("my shoulders dropped at lunch", "ovos")]


def test_a_ripple_taken_back_keeps_nothing(assistant):
    assistant.say("ripple", "note a ripple", answers=["never mind"])
    assert assistant.spoken() == [actions.ASK_RIPPLE, actions.NOTHING_HEARD]
    with Store.open() as store:
        assert store.count_entries() == 0


def test_a_checkin_keeps_the_words_and_the_states_they_name(assistant):
    assistant.say("checkin", "check in, tired and a bit open")
    [reply] = assistant.spoken()
    assert reply.startswith("Thank you. I noted")
    with Store.open() as store:
        [entry] = store.list_entries()
        assert (entry["kind"], entry["text"], entry["engine"], entry["audio"]) == ("checkin", "tired and a bit open", "ovos", None)
        assert sorted(store.entry_states(entry["id"])) == ["open", "tired"]


def test_a_reflection_asks_each_question_and_keeps_the_answers_as_one_sitting(assistant):
    assistant.say("reflect", "I'm back from therapy",
                  answers=["Being listened to.", "skip", "When I hold my breath. I'm done."])
    questions = actions.reflection_questions(ovos_skill.config.Settings())
    spoken = assistant.spoken()
    assert spoken[1:4] == questions and spoken[-1] == actions.REFLECTION_CLOSING
    assert spoken[0].startswith(actions.REFLECTION_OPENING)
    with Store.open() as store:
        [sitting] = store.list_reflections()
        kept = store.list_entries(kind="reflection")
    assert sitting["engine"] == "ovos" and sitting["ended_at"]
    assert [(e["prompt"], e["text"], e["engine"], e["audio"], e["reflection_id"]) for e in kept] == [
        (questions[0], "Being listened to.", "ovos", None, sitting["id"]),
        (questions[2], "When I hold my breath.", "ovos", None, sitting["id"]),
    ]


def test_words_of_crisis_in_a_reflection_are_met_with_the_note_after_saving(assistant, monkeypatch):
    monkeypatch.delenv("COMPANION_CRISIS_NOTE", raising=False)
    assistant.say("reflect", "ask me the questions", answers=["Some days I want to die.", "I am done"])
    spoken = assistant.spoken()
    assert spoken[-2:] == [actions.REFLECTION_CLOSING, CRISIS_NOTE]
    with Store.open() as store:
        assert [e["text"] for e in store.list_entries(kind="reflection")] == ["Some days I want to die."]


def test_the_digest_and_a_session(assistant):
    assistant.say("session", "I had a session today")
    assert assistant.spoken() == [actions.SESSION_NOTED]
    assistant.say("ripple", "I noticed I breathed more slowly at work")
    assistant.say("review", "what did I notice since my last session")
    [digest] = assistant.spoken()
    assert "one ripple" in digest and "I breathed more slowly at work" in digest
    with Store.open() as store:
        assert len(store.list_sessions()) == 1


def test_unknown_and_cancel_keep_nothing(assistant):
    replies = actions.reply_for  # the same words `companion listen` says
    assistant.say("reflect", "I'm not ready to reflect")
    assert assistant.spoken() == [replies(understand_request("I'm not ready to reflect"))]
    assistant.say("review", "what is the weather like")
    assert assistant.spoken() == [replies(understand_request("what is the weather like"))]
    with Store.open() as store:
        assert store.count_entries() == 0 and not store.list_reflections()


def test_a_locked_data_folder_is_a_calm_line_not_a_crash(assistant, companion_home):
    (companion_home / "encryption.json").write_text("{}")  # encryption on, and no passphrase given to the assistant
    assistant.say("ripple", "I noticed the light in the morning")
    assert assistant.spoken() == [(LOCALE / "locked.dialog").read_text().strip()]


def test_a_practice_by_need_with_a_length_begins_and_stops(assistant):
    assistant.say("practice", "help me sleep for two minutes")
    practice = cues.fitted(find("before-bed"), 2)
    assert assistant.spoken()[0] == f"Let's begin {practice.title}. It takes about two minutes. You can say stop whenever you like."
    assistant.wait_for("speak", 2)  # the practice's first line, on its schedule (at once)
    assert assistant.spoken()[1] == cues.schedule(practice).cues[0][1]
    assistant.bus.emit(Message("mycroft.stop"))
    assistant.skill._leading.join(timeout=5)
    assert assistant.spoken()[-1] == (LOCALE / "practice.stopped.dialog").read_text().strip()
    with Store.open() as store:
        [run] = list_runs(store)
    assert (run["practice"], run["outcome"], run["engine"], run["mode"]) == ("before-bed", "stopped", "ovos", "voice")


def test_a_practice_speaks_each_cue_on_companions_schedule(assistant, companion_home):
    (companion_home / "practices").mkdir()
    (companion_home / "practices" / "quick.toml").write_text(
        'name = "quick"\ndescription = "Two quick breaths."\nspoken_names = ["quick one"]\n'
        '[[steps]]\nsay = "Let\'s breathe."\n[[steps]]\nbreathe = [{inhale = 0.5}, {hold = 0.5}, {exhale = 1}]\ncycles = 2\n'
        '[[steps]]\nsay = "That is all."\n')
    assistant.say("practice", "start the quick one")
    plan = cues.schedule(find("quick"))
    assistant.skill._leading.join(timeout=15)
    spoken = [(m["data"]["utterance"], m["context"].get("skill_id")) for m in assistant.sent if m["type"] == "speak"]
    assert [words for words, _ in spoken[1:]] == [words for _, words in plan.cues]
    assert {skill for _, skill in spoken} == {SKILL_ID}
    with Store.open() as store:
        [run] = list_runs(store)
    assert run["outcome"] == "finished" and run["duration"] == pytest.approx(plan.seconds, abs=0.5)


def test_the_cue_runner_keeps_time():
    plan = cues.Schedule(tuple((i * 0.1, f"cue {i}") for i in range(10)), 1.0)
    said: list[tuple[float, str]] = []
    start = time.monotonic()
    result = cues.run(plan, lambda words: said.append((time.monotonic() - start, words)), threading.Event())
    assert result.finished and [w for _, w in said] == [w for _, w in plan.cues]
    assert max(result.lateness) < 0.25 and all(abs(t - at) < 0.25 for (t, _), (at, _) in zip(said, plan.cues))
    stopped = threading.Event()
    stopped.set()
    assert not cues.run(plan, said.append, stopped).finished


def test_the_entry_point_is_found_by_ovos_plugin_manager():
    from ovos_plugin_manager.skills import find_skill_plugins

    assert find_skill_plugins()[SKILL_ID] is ovos_skill.CompanionSkill


def test_the_intents_are_registered_and_the_dialogs_say_what_companion_says(assistant):
    registered = {m["data"]["name"] for m in assistant.sent if m["type"] == "padatious:register_intent"}
    assert registered == {f"{SKILL_ID}:{name}.intent" for name in ovos_skill.INTENTS}
    assert (LOCALE / "ask.ripple.dialog").read_text().strip() == actions.ASK_RIPPLE
    assert (LOCALE / "ask.checkin.dialog").read_text().strip() == actions.ASK_CHECKIN
    assert (LOCALE / "nothing.kept.dialog").read_text().strip() == actions.NOTHING_HEARD
    assert (LOCALE / "reflection.opening.dialog").read_text().startswith(actions.REFLECTION_OPENING)
    assert json.loads((LOCALE / "skill.json").read_text())["skill_id"] == SKILL_ID


SAMPLES = {"words": "my jaw softened", "minutes": "three", "practice": "box breathing"}


def expanded(line: str) -> list[str]:
    """Every sentence a Padatious line stands for: (a|b) alternatives, {slots} filled with samples."""
    parts = re.split(r"(\([^)]*\))", line)
    choices = [p[1:-1].split("|") if p.startswith("(") else [p] for p in parts]
    sentences = ("".join(c) for c in itertools.product(*choices))
    return [" ".join(re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m.group(1)], s).split()) for s in sentences]


@pytest.mark.parametrize("intent", ovos_skill.INTENTS)
def test_every_intent_sentence_means_the_same_to_companions_intent_layer(intent):
    lines = (LOCALE / f"{intent}.intent").read_text().splitlines()
    wrong = [(s, understand_request(s).intent) for line in lines if line.strip() for s in expanded(line)
             if understand_request(s).intent != intent]
    assert wrong == []


def test_the_plain_install_never_imports_openvoiceos():
    code = ("import sys, companion.cli, companion.assistants.actions, companion.assistants.ovos, "
            "companion.assistants.ovos.cues; print(sorted(m for m in sys.modules if m.startswith('ovos')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_practice_asked_for_without_a_name_asks_which_and_never_mind_begins_none(assistant):
    assistant.say("practice", "start a practice", answers=["never mind"])
    [question, reply] = assistant.spoken()
    assert question.startswith("Which practice would you like?") and "box breathing" in question
    assert reply == actions.reply_for(understand_request("never mind"))
    assert assistant.skill._leading is None
    assistant.say("practice", "start a practice", answers=["the box one"])
    assert assistant.spoken()[1].startswith("Let's begin Box breathing.")
