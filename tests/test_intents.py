"""Spoken requests as people say them (and as Whisper writes them) -> what Companion understands."""

from __future__ import annotations

import pytest

from companion.textnorm import scoring_words
from companion.understand.intents import INTENTS, Request, kind_reply, load_grammar, understand
from companion.understand.lengths import spoken_minutes

R = Request
# (what was heard, what it asks for)
TABLE: list[tuple[str, Request]] = [
    # a reflection
    ("I want to reflect", R("reflect")),
    ("Let's reflect.", R("reflect")),
    ("Companion, I just came back from therapy.", R("reflect")),
    ("companion i just got back from my session", R("reflect")),
    ("Um, I think I'd like to do a reflection", R("reflect")),
    ("can we talk about my session", R("reflect")),
    ("Hey Companion, ask me the questions", R("reflect")),
    ("I'm back from therapy and I want to reflect on it", R("reflect")),
    # a practice by name
    ("Companion, help me ground.", R("practice")),
    ("Companion, help me grounds.", R("practice")),  # as Whisper writes "help me ground" over other voices
    ("Help me grounded.", R("practice")),  # not a check-in saying "grounded"
    ("breathe with me", R("practice")),
    ("Could you breathe with me for a bit?", R("practice")),
    ("hand on my chest", R("practice", "hand-on-chest")),
    ("Companion, hand on chest please.", R("practice", "hand-on-chest")),
    ("Feet on the floor.", R("practice", "feet-on-the-floor")),
    ("I've got a meeting soon, feet on the floor please", R("practice", "feet-on-the-floor")),
    ("Before bed.", R("practice", "before-bed")),
    ("box breathing", R("practice", "box-breathing")),
    ("Um, could you maybe do box breathing?", R("practice", "box-breathing")),
    ("Box, please.", R("practice", "box-breathing")),
    ("4-7-8", R("practice", "four-seven-eight")),
    ("Let's do 4 7 8 breathing", R("practice", "four-seven-eight")),
    ("Four seven eight breathing, please.", R("practice", "four-seven-eight")),
    ("478 breathing", R("practice", "four-seven-eight")),
    ("cyclic sighing", R("practice", "cyclic-sighing")),
    ("Can we do some sighing?", R("practice", "cyclic-sighing")),
    ("resonance breathing", R("practice", "resonance")),
    ("Companion, slow breathing with me.", R("practice", "resonance")),
    ("allow rest", R("practice", "allow-rest")),
    ("Not box breathing, resonance.", R("practice", "resonance")),
    # a practice by need
    ("I can't sleep", R("practice", "before-bed")),
    ("Companion. I cant sleep.", R("practice", "before-bed")),
    ("help me sleep", R("practice", "before-bed")),
    ("I need to rest", R("practice", "allow-rest")),
    ("I need a break.", R("practice", "allow-rest")),
    ("I'm really overwhelmed", R("practice")),
    ("I think I'm having a panic attack", R("practice")),
    ("I want to stop feeling so tense", R("practice")),
    ("Can you help me calm down?", R("practice")),
    ("a breathing exercise please", R("practice")),
    ("Let's do a practice.", R("practice")),
    # a practice with a length
    ("Companion, help me ground for five minutes.", R("practice", minutes=5)),
    ("box breathing for 5 minutes", R("practice", "box-breathing", 5)),
    ("Resonance, 10 minutes.", R("practice", "resonance", 10)),
    ("hand on my chest for a couple of minutes", R("practice", "hand-on-chest", 2)),
    ("I need to rest for a few minutes", R("practice", "allow-rest", 3)),
    ("breathe with me for two and a half minutes", R("practice", minutes=2.5)),
    ("4 7 8 for 3 minutes", R("practice", "four-seven-eight", 3)),
    ("Before bed, fifteen minutes please.", R("practice", "before-bed", 15)),
    ("a one minute breathing practice", R("practice", minutes=1)),
    ("cyclic sighing for 90 seconds", R("practice", "cyclic-sighing", 1.5)),
    ("feet on the floor for a minute and a half", R("practice", "feet-on-the-floor", 1.5)),
    ("can I do the resonance one for twenty five minutes", R("practice", "resonance", 25)),
    ("box breathing for 2.5 minutes", R("practice", "box-breathing", 2.5)),
    # a ripple, with its words said in the same breath or not
    ("Companion, I noticed I didn't apologise today", R("ripple", text="I didn't apologise today")),
    ("I noticed something", R("ripple")),
    ("I noticed something. And", R("ripple")),  # trailing off: the ripple is still to come
    ("Companion, I noticed something. Time.", R("ripple")),  # one stray word a short decode added: still to come
    ("Companion, I noticed something and I'll.", R("ripple")),  # cut off before the ripple itself
    ("I noticed that I", R("ripple")),
    ("Companion, I noticed something in I'll.", R("ripple")),  # "and I'll" as a short decode heard it
    ("I noticed I was all in", R("ripple", text="I was all in")),
    ("Companion, I noticed something, I noticed something and I'll", R("ripple")),  # a decode that repeats itself
    ("I noticed a small shift today", R("ripple")),  # the request's own words, nothing of the ripple yet
    ("I noticed nothing today", R("ripple", text="nothing today")),  # a day without a shift is kept too
    ("I noticed something and I'll tell you: I slept well", R("ripple", text="something and I'll tell you: I slept well")),
    ("I noticed I did it", R("ripple", text="I did it")),
    ("I noticed something. I was calm at work.", R("ripple", text="something. I was calm at work")),
    ("note a ripple", R("ripple")),
    ("Companion, I noticed I breathed more slowly at work.", R("ripple", text="I breathed more slowly at work")),
    ("I noticed that I said no to my sister", R("ripple", text="I said no to my sister")),
    ("um I just noticed my shoulders dropped", R("ripple", text="my shoulders dropped")),
    ("Ripple: I laughed at lunch without checking my phone.", R("ripple", text="I laughed at lunch without checking my phone")),
    ("I want to note a ripple", R("ripple")),
    ("I realized I wasn't scared of the phone call", R("ripple", text="I wasn't scared of the phone call")),
    ("I didn't notice I was holding my breath until the meeting ended", R("ripple", text="I didn't notice I was holding my breath until the meeting ended")),
    ("I noticed nothing today", R("ripple", text="nothing today")),
    ("Companion, I noticed I couldn't sleep after the call", R("ripple", text="I couldn't sleep after the call")),
    ("hey companion I've noticed something small", R("ripple")),
    ("Companion I noticed I was less tense with my boss, companion", R("ripple", text="I was less tense with my boss")),
    # a check-in
    ("check in", R("checkin")),
    ("Check-in.", R("checkin")),
    ("checkin", R("checkin")),
    ("Companion, check in and I'll", R("checkin")),  # cut off before how the body feels: asked for
    ("check in, and", R("checkin")),
    ("Could I do a quick check in?", R("checkin")),
    ("I feel tired and a bit open", R("checkin", text="tired and a bit open")),
    ("Companion, I'm feeling heavy.", R("checkin", text="heavy")),
    ("Check in: tired and restless.", R("checkin", text="tired and restless")),
    ("I'm tired and a bit open", R("checkin", text="tired and a bit open")),
    ("My body feels warm and kind of shaky", R("checkin", text="warm and kind of shaky")),
    ("tense", R("checkin", text="tense")),
    ("I don't feel tense any more", R("checkin", text="I don't feel tense any more")),
    # the review
    ("What did I say since my session?", R("review")),
    ("read me my ripples", R("review", kind="ripple")),
    ("Companion, read me my check-ins", R("review", kind="checkin")),
    ("what have I noticed this week", R("review", kind="ripple")),
    ("Can you play back my reflections", R("review", kind="reflection")),
    ("review", R("review")),
    ("What did I say since my last session", R("review")),
    # a session
    ("I had a session today", R("session")),
    ("Companion, I had therapy this morning.", R("session")),
    ("mark a session", R("session")),
    ("I saw my therapist today", R("session")),
    # more, as people say them
    ("companion can we do the box one", R("practice", "box-breathing")),
    ("Companion... breathe with me, please, for like three minutes", R("practice", minutes=3)),
    ("hey companion um i noticed i didn't check my email before breakfast", R("ripple", text="i didn't check my email before breakfast")),
    ("I would like to reflect on today's session", R("reflect")),
    ("Companion, I'm exhausted.", R("checkin", text="exhausted")),
    ("could you read my ripples to me", R("review", kind="ripple")),
    ("so, um, I had my therapy session this afternoon", R("session")),
    ("Let's do the hand on heart one", R("practice", "hand-on-chest")),
    ("I'm anxious", R("practice")),
    ("Companion can you guide me through resonance breathing for 6 minutes", R("practice", "resonance", 6)),
    ("I'd like to note something", R("ripple")),
    ("I want to check in", R("checkin")),
    ("I realised I've been holding my jaw all day", R("ripple", text="I've been holding my jaw all day")),
    ("I'm going to bed, help me wind down", R("practice", "before-bed")),
    ("let me rest for 10 min", R("practice", "allow-rest", 10)),
    ("I don't need a practice right now", R("cancel")),
    ("Companion, never mind, sorry", R("cancel")),
    ("Companion, I noticed I ate lunch away from my desk, which felt good.", R("ripple", text="I ate lunch away from my desk, which felt good")),
    ("today I feel lighter", R("checkin", text="lighter")),
    ("let's go over my reflections", R("review", kind="reflection")),
    ("Mark today as a session day", R("session")),
    ("I'm stressed about work, can we do box breathing", R("practice", "box-breathing")),
    ("I'm not anxious", R("unknown")),
    ("what can you do", R("unknown")),
    ("Companion I want to do the feet one", R("practice", "feet-on-the-floor")),
    ("okay companion let's breathe together for five minutes", R("practice", minutes=5)),
    ("Companion, I'm lying in bed and I can't switch off", R("practice", "before-bed")),
    ("I keep waking up at 3am", R("practice", "before-bed")),
    ("I noticed", R("ripple")),
    ("Note: I asked for help today", R("ripple", text="I asked for help today")),
    ("Companion, I'd like to add a ripple", R("ripple")),
    ("Companion? Um. I noticed... I didn't snap at my kids.", R("ripple", text="I didn't snap at my kids")),
    ("I'd like to log how my body feels", R("checkin")),
    ("My shoulders are tight", R("checkin", text="My shoulders are tight")),
    ("my legs are shaky and my jaw is tight", R("checkin", text="my legs are shaky and my jaw is tight")),
    ("I'm feeling a bit numb", R("checkin", text="a bit numb")),
    ("Companion, tell me what I've said since my appointment", R("review")),
    ("Can you summarize my week", R("review")),
    ("Companion read back my reflection from Tuesday", R("review", kind="reflection")),
    ("I've just had my therapy appointment", R("session")),
    ("Companion I just finished therapy", R("reflect")),
    ("I just finished my session and want to go over it", R("reflect")),
    ("I want to rest my eyes for a minute", R("practice", "allow-rest", 1)),
    ("Give me five minutes of box breathing", R("practice", "box-breathing", 5)),
    ("Companion, 10 minutes resonance", R("practice", "resonance", 10)),
    ("Companion, hand on chest, three minutes", R("practice", "hand-on-chest", 3)),
    ("Can we do a two-minute grounding?", R("practice", minutes=2)),
    ("companion companion help me ground", R("practice")),
    ("shut up", R("stop")),
    ("Enough for now, thanks", R("stop")),
    ("OK Companion, cancel", R("cancel")),
    ("wait no", R("cancel")),
    ("I'm fine", R("cancel")),
    ("I'm not in the mood for breathing", R("cancel")),
    ("no more practices today", R("cancel")),
    ("don't reflect", R("cancel")),
    ("I want to stop smoking", R("unknown")),
    ("Tell me a joke", R("unknown")),
    ("Companion how are you", R("unknown")),
    ("my phone is broken", R("unknown")),
    ("Companion. Help me ground.", R("practice")),
    ("COMPANION HELP ME GROUND", R("practice")),
    ("companion box breathing 5 minutes", R("practice", "box-breathing", 5)),
    ("Companion, four, seven, eight.", R("practice", "four-seven-eight")),
    ("Companion, 4, 7, 8 breathing for four minutes.", R("practice", "four-seven-eight", 4)),
    ("Companion! I noticed, um, I didn't apologize today.", R("ripple", text="I didn't apologize today")),
    ("Companion, uh, check in.", R("checkin")),
    ("Companion, check-in. I'm tired and a bit open.", R("checkin", text="tired and a bit open")),
    ("I'd like some help getting to sleep", R("practice", "before-bed")),
    ("Could you do the sleep one", R("practice", "before-bed")),
    ("can we do the rest one for a couple minutes", R("practice", "allow-rest", 2)),
    ("Hand on chest for 5.", R("practice", "hand-on-chest", 5)),
    ("I'm nervous about a meeting", R("practice", "feet-on-the-floor")),
    ("Companion, I'm about to go into a difficult conversation", R("practice", "feet-on-the-floor")),
    ("I'd like to talk about therapy", R("reflect")),
    ("what did I notice yesterday", R("review", kind="ripple")),
    ("play my last check in", R("review", kind="checkin")),
    ("Companion, the weather.", R("unknown")),
    ("Companion I'd love some help grounding myself", R("practice")),
    ("can you do a breathing thing with me", R("practice")),
    ("Companion, could we maybe try the box breathing for like 4 minutes", R("practice", "box-breathing", 4)),
    ("I noticed my hands weren't shaking when I spoke up", R("ripple", text="my hands weren't shaking when I spoke up")),
    ("Companion I caught myself holding my breath again", R("ripple", text="I caught myself holding my breath again")),
    ("I want to write down a ripple", R("ripple")),
    ("how am I feeling", R("checkin")),
    ("Companion I feel really heavy today, like wading through mud", R("checkin", text="really heavy today, like wading through mud")),
    ("I'm really restless", R("checkin", text="really restless")),
    ("Companion what did I say last week", R("review")),
    ("Companion can you tell me what I noticed since Thursday", R("review", kind="ripple")),
    ("I'd like to hear my ripples", R("review", kind="ripple")),
    ("I got back from my therapist an hour ago", R("reflect")),
    ("I want to go through the questions", R("reflect")),
    ("Could you mark that I had a session", R("session")),
    ("Companion, that's all for now", R("cancel")),
    ("no no no", R("cancel")),
    ("Companion, stop please, stop", R("stop")),
    ("I need to do some sighing", R("practice", "cyclic-sighing")),
    ("I can't fall asleep", R("practice", "before-bed")),
    ("I'm wide awake and it's 2am", R("practice", "before-bed")),
    ("Could you help me settle down before my meeting", R("practice", "feet-on-the-floor")),
    ("I need to slow down", R("practice", "allow-rest")),
    ("Companion, what's your name", R("unknown")),
    ("Can you call my mum", R("unknown")),
    ("I'm not sure", R("unknown")),
    # never mind, stop
    ("never mind", R("cancel")),
    ("Never mind. And", R("cancel")),
    ("Nevermind.", R("cancel")),
    ("Oh, forget it.", R("cancel")),
    ("no thanks", R("cancel")),
    ("Companion, sorry, I wasn't talking to you.", R("cancel")),
    ("help me ground... actually, never mind", R("cancel")),
    ("stop", R("stop")),
    ("Companion, stop.", R("stop")),
    ("Stop, stop.", R("stop")),
    ("okay stop please", R("stop")),
    ("Please stop.", R("stop")),
    ("That's enough.", R("stop")),
    # turned down: nothing starts
    ("I'm not ready to reflect", R("cancel")),
    ("I don't want to do box breathing", R("cancel")),
    ("not now", R("cancel")),
    ("I don't feel like reflecting today", R("cancel")),
    # not understood: the kind answer, never a guess
    ("What's the weather like tomorrow?", R("unknown")),
    ("Companion", R("unknown")),
    ("", R("unknown")),
    ("can you help me", R("unknown")),
    ("I'm going to the shops", R("unknown")),
    ("I didn't sleep well last night", R("unknown")),
    ("The rest of my week was busy", R("unknown")),
    ("I bought a new box for my shoes", R("unknown")),
    ("play some music", R("unknown")),
    ("my chest hurts when I run", R("unknown")),
    ("set a timer for five minutes", R("unknown")),
]


def test_the_table_is_large_and_covers_every_intent():
    assert len(TABLE) >= 80
    assert {request.intent for _, request in TABLE} == set(INTENTS)


@pytest.mark.parametrize("heard, expected", TABLE, ids=[h or "(nothing)" for h, _ in TABLE])
def test_a_request_is_understood(heard: str, expected: Request):
    assert understand(heard) == expected


def test_accuracy_on_the_whole_table_is_complete():
    wrong = [(heard, understand(heard), expected) for heard, expected in TABLE if understand(heard) != expected]
    assert wrong == [], f"{len(TABLE) - len(wrong)}/{len(TABLE)} understood"


@pytest.mark.parametrize("said, minutes", [
    ("for five minutes", 5), ("5 minutes", 5), ("a minute", 1), ("half a minute", 0.5), ("a couple of minutes", 2),
    ("a couple minutes", 2), ("a few minutes", 3), ("one and a half minutes", 1.5), ("a minute and a half", 1.5),
    ("twenty five minutes", 25), ("twenty minutes", 20), ("90 seconds", 1.5), ("30 seconds", 0.5), ("half an hour", 30),
    ("2.5 minutes", 2.5), ("five more minutes", 5), ("ten minute", 10), ("three", None), ("a while", None), ("", None),
])
def test_lengths_as_people_say_them(said: str, minutes: float | None):
    assert understand(f"box breathing {said}").minutes == minutes
    if "." not in said:  # a decimal is one word only as requests are read ("2.5"), not in scoring_words
        grammar = load_grammar()
        assert spoken_minutes(scoring_words(said), grammar.numbers, grammar.units)[0] == minutes


def test_the_wake_name_can_be_changed():
    assert understand("Juniper, help me ground", name="juniper") == R("practice")
    assert understand("Hey Juniper, I noticed I slept well", name="Juniper") == R("ripple", text="I slept well")
    assert understand("Juniper, stop", name="juniper") == R("stop")
    assert understand("Juniper", name="juniper") == R("unknown")
    assert understand("Companion, stop", name="juniper") == R("unknown")  # another name is just a word


def test_a_persons_own_practices_are_understood_by_their_spoken_names():
    own = {"morning-walk": ["morning walk", "walk"]}
    assert understand("Companion, morning walk for ten minutes", practices=own) == R("practice", "morning-walk", 10)
    assert understand("walk please", practices=own) == R("practice", "morning-walk")
    assert understand("walk please") == R("unknown")


def test_every_built_in_practice_is_understood_by_each_of_its_spoken_names():
    from companion.practice.model import load_all

    practices, problems = load_all()
    assert problems == []
    for practice in (p for p in practices.values() if p.source == "built-in"):
        for spoken in (*practice.spoken_names, practice.name.replace("-", " ")):
            assert understand(spoken) == R("practice", practice.name), spoken
    assert set(load_grammar().practice_names) <= set(practices)  # the data file names real practices
    assert all(name in practices for name in load_grammar().practice_needs)


def test_the_kind_answer_is_calm_short_and_offers_what_companion_can_do():
    reply = kind_reply(understand("what's the capital of France"))
    assert reply == "I'm not sure I understood. I can guide a short practice, note a ripple, or begin a reflection."
    assert kind_reply(understand("never mind")).startswith("Okay.")
    assert kind_reply(understand("help me ground")) == ""  # the practice speaks for itself


def test_words_of_crisis_are_met_with_the_crisis_note_not_a_menu(monkeypatch):
    monkeypatch.delenv("COMPANION_CRISIS_NOTE", raising=False)
    unknown = understand("Companion, I want to die")
    assert unknown == R("unknown") and unknown.heard == "I want to die"
    assert "cannot help in a crisis" in kind_reply(unknown)
    assert "emergency services" in kind_reply(understand("I want to hurt myself, help me ground"))
    assert kind_reply(understand("I feel like I want to die")) == ""  # the check-in gives the note after saving
    assert kind_reply(unknown, crisis_note=False).startswith("I'm not sure I understood.")
    monkeypatch.setenv("COMPANION_CRISIS_NOTE", "0")
    assert kind_reply(unknown).startswith("I'm not sure I understood.")


def test_what_was_heard_is_kept_without_the_wake_name():
    assert understand("Hey Companion, um, box breathing please.").heard == "box breathing please"
    assert understand("Companion").heard == ""


def test_requests_are_small_frozen_values():
    request = understand("box breathing for 5 minutes")
    with pytest.raises(AttributeError):
        request.intent = "stop"  # type: ignore[misc]
    assert request.minutes == 5.0 and isinstance(request.minutes, float)
