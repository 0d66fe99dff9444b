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


def test_a_first_word_close_to_the_name_is_decoded_again_and_believed_only_as_a_call(tmp_path):
    from companion.listen.wake import begins_near_the_name, confirmed

    assert begins_near_the_name("Comparing and help me ground.", "companion")
    assert begins_near_the_name("Campania, El B-D", "companion")
    assert begins_near_the_name("Hey Comparian", "companion")
    assert begins_near_the_name("They can paniums.", "companion")  # "Hey Companion" over other voices
    assert begins_near_the_name("They compare the entire...", "companion")
    assert not begins_near_the_name("They came home late.", "companion")
    assert not begins_near_the_name("The river was calm.", "companion")
    assert not begins_near_the_name("Carrots and peas.", "companion")
    assert confirmed("Companion, help me ground.", "companion", pause=False) == "help me ground"
    assert confirmed("Companion.", "companion", pause=True) == ""
    assert confirmed("Companion", "companion", pause=False) is None  # the voice goes on: not yet a call
    assert confirmed("Companion is a lovely word.", "companion", pause=False) is None  # not a request
    assert confirmed("Compassion helps me grow.", "companion", pause=True) is None  # not the name

    # in the detector: the second decode is made only for a near name, and counted as a check
    said = load16k(espeak_wav("Companion, help me ground.", tmp_path / "a.wav"))
    quiet = np.zeros(SAMPLE_RATE, np.float32)
    for first, second, woken in (("Comparing and help me ground.", "Companion, help me ground.", True),
                                 ("The weather is nice.", "Companion, help me ground.", False),
                                 ("Compassion helps me grow.", "Compassion helps me grow.", False)):
        decodes = {"first": 0, "near": 0}
        detector = WakeDetector(lambda audio: decodes.__setitem__("first", decodes["first"] + 1) or first, "companion",
                                decode_near=lambda audio: decodes.__setitem__("near", decodes["near"] + 1) or second)
        stream = np.concatenate([quiet, said, quiet])
        call = next((c for i in range(0, len(stream), 320) if (c := detector.accept(stream[i:i + 320]))), None)
        assert (call is not None) == woken, (first, call)
        assert detector.checks == decodes["first"] + decodes["near"]
        assert decodes["near"] == (0 if first.startswith("The") else decodes["first"]), (first, decodes)
        if woken:
            assert call.rest == "help me ground"


def _levels(*runs: tuple[float, int]) -> np.ndarray:
    """Short-term levels: each run a (dB, readings) pair, with a little of the room's wavering."""
    rng = np.random.default_rng(5)
    return np.concatenate([db + rng.uniform(-2, 2, n) for db, n in runs])


def test_a_clearly_louder_voice_is_found_where_it_began_but_not_a_blip_or_the_same_level():
    from companion.listen.louder import ONSET_HOLD, louder_onset

    assert louder_onset(_levels((-30, 100), (-20, ONSET_HOLD))) == 100
    assert louder_onset(_levels((-30, 100), (-20, 3))) is None  # a loud syllable of the room
    assert louder_onset(_levels((-30, 100), (-26, ONSET_HOLD + 4))) is None  # not clearly louder
    assert louder_onset(_levels((-30, 10), (-20, ONSET_HOLD))) is None  # too little to measure it against
    assert louder_onset(_levels((-30, 100), (-20, ONSET_HOLD), (-30, 1))) is None  # already gone


def _noise(rng: np.random.Generator, rms: float, seconds: float) -> np.ndarray:
    return (rms * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def test_louder_voice_reports_the_start_of_a_nearer_voice_and_when_it_fell_back():
    from companion.listen.louder import ONSET_PRE_ROLL, LouderVoice
    from companion.listen.wake import NAME_PAUSE

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
    from companion.listen.louder import LouderVoice

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


def test_a_louder_request_ends_when_its_voice_has_fallen_back_for_the_gap_and_keeps_a_short_tail():
    from companion.listen.louder import REQUEST_TAIL, LouderRequest
    from companion.listen.wake import END_GAP, LONGEST

    rng = np.random.default_rng(4)
    room, voice = _noise(rng, 0.01, 0.15), _noise(rng, 0.05, 1.5)
    request = LouderRequest(np.concatenate([room, voice[:8000]]), -40.0, END_GAP, LONGEST)
    assert not request.ended
    for part in (voice[8000:], _noise(rng, 0.01, END_GAP - 0.1)):
        for i in range(0, len(part), 320):
            assert not request.accept(part[i:i + 320])
    rest = _noise(rng, 0.01, 0.2)
    assert any(request.accept(rest[i:i + 320]) for i in range(0, len(rest), 320))
    assert abs(len(request.samples()) / SAMPLE_RATE - (0.15 + 1.5 + REQUEST_TAIL)) <= 0.12  # the room after it left out
    endless = LouderRequest(_noise(rng, 0.05, 1.0), -40.0, END_GAP, LONGEST)
    assert not endless.ended and endless.accept(_noise(rng, 0.05, LONGEST))  # never longer than LONGEST


def _speech(text: str, path) -> np.ndarray:
    """espeak-ng speech, 16 kHz, its leading and trailing silence cut off."""
    x = load16k(espeak_wav(text, path))
    power = np.convolve(np.square(x, dtype=np.float64), np.ones(160) / 160, "same")
    loud = np.flatnonzero(power >= power.max() * 1e-3)
    return x[loud[0]:loud[-1] + 1].astype(np.float32)


def _over_babble(speech: np.ndarray, at: float, seconds: float, quiet_first: float = 1.0, seed: int = 0) -> np.ndarray:
    """`speech` said at `at` over babble 10 dB under it; the babble begins after `quiet_first`
    seconds of a quiet room (a TV switched on), so the voice detector's segment opens with it."""
    from companion.harness import rooms

    rng = np.random.default_rng(seed)
    stream = rooms.at_level(rooms.fit(rooms.babble(30.0), int(seconds * SAMPLE_RATE), int(rng.integers(0, 200000))),
                            speech, 10.0)
    stream[: int(quiet_first * SAMPLE_RATE)] = 0.0005 * rng.standard_normal(int(quiet_first * SAMPLE_RATE))
    stream[int(at * SAMPLE_RATE):int(at * SAMPLE_RATE) + len(speech)] += speech
    return stream.astype(np.float32)


def _fed_until_request_ended(request, stream: np.ndarray, first: int) -> tuple[np.ndarray, float]:
    """Feed `request` from sample `first` until its sound is found: (that sound, stream seconds then)."""
    for i in range(first, len(stream), 320):
        audio = request.accept(stream[i:i + 320])
        if audio is not None:
            return audio, (i + 320) / SAMPLE_RATE
    raise AssertionError("the request never ended")


def test_a_request_said_with_the_name_over_babble_ends_with_its_louder_voice_not_at_longest(tmp_path):
    said = _speech("Companion, help me ground.", tmp_path / "a.wav")
    said_at = 4.2
    said_end = said_at + len(said) / SAMPLE_RATE
    stream = _over_babble(said, said_at, 20.0)
    detector = WakeDetector(lambda audio: "", "companion")

    def decode(audio: np.ndarray) -> str:
        began = detector.louder.now - len(audio) / SAMPLE_RATE
        return "Companion, help me ground." if abs(began - said_at) < 0.4 else "The weather turned cold."

    detector.decode = decode
    for i in range(0, len(stream), 320):
        if call := detector.accept(stream[i:i + 320]):
            break
    assert call.rest == "help me ground" and call.over_db is not None and abs(call.began - said_at) < 0.3
    audio, ended_at = _fed_until_request_ended(detector.request_after(call), stream, i + 320)
    assert detector.segmenter.open  # the voice detector would have waited for LONGEST
    assert said_end <= ended_at <= said_end + 1.0
    assert said_end - 0.1 <= call.began + len(audio) / SAMPLE_RATE <= said_end + 0.5  # the babble after it left out


def test_a_request_after_the_acknowledgement_over_babble_begins_and_ends_with_its_louder_voice(tmp_path):
    said = _speech("Breathe with me for five minutes.", tmp_path / "a.wav")
    listening_at = 6.0  # the babble went on while the name was heard and "Yes?" was said
    for reply_after in (0.6, 1.5):
        said_at = listening_at + reply_after
        said_end = said_at + len(said) / SAMPLE_RATE
        stream = _over_babble(said, said_at, 25.0, seed=int(reply_after * 10))
        detector = WakeDetector(lambda audio: "", "companion")
        first = int(listening_at * SAMPLE_RATE)
        for i in range(0, first, 320):
            detector.accept(stream[i:i + 320])
        detector.segmenter.reset()  # as after "Yes?"
        request = detector.request_after_acknowledgement()
        audio, ended_at = _fed_until_request_ended(request, stream, first)
        assert request.louder is not None and detector.segmenter.open
        assert said_end <= ended_at <= said_end + 1.0
        began = ended_at - request.louder.now
        assert said_at - 0.3 <= began <= said_at + 0.05  # from just before the reply, not the babble before
        assert began + len(audio) / SAMPLE_RATE <= said_end + 0.5


def test_in_a_quiet_room_the_request_still_ends_with_its_segment(tmp_path):
    from companion.listen.wake import END_GAP

    said = _speech("Companion, help me ground.", tmp_path / "a.wav")
    rng = np.random.default_rng(6)
    stream = _noise(rng, 0.0005, 8.0)
    said_at = 1.0
    said_end = said_at + len(said) / SAMPLE_RATE
    stream[int(said_at * SAMPLE_RATE):int(said_at * SAMPLE_RATE) + len(said)] += said
    detector = WakeDetector(lambda audio: "Companion, help me ground.", "companion")
    for i in range(0, len(stream), 320):
        if call := detector.accept(stream[i:i + 320]):
            break
    assert call.over_db is None and abs(call.began - said_at) <= 0.4
    request = detector.request_after(call)
    audio, ended_at = _fed_until_request_ended(request, stream, i + 320)
    assert request.louder is None and not detector.segmenter.open  # ended by the voice detector
    assert said_end + END_GAP - 0.1 <= ended_at <= said_end + END_GAP + 0.4
    assert len(audio) / SAMPLE_RATE >= ended_at - call.began - 0.1  # the whole segment, as before

    reply = _noise(rng, 0.0005, 6.0)
    reply[int(0.8 * SAMPLE_RATE):int(0.8 * SAMPLE_RATE) + len(said)] += said
    detector.segmenter.reset()
    request = detector.request_after_acknowledgement()
    audio, ended_at = _fed_until_request_ended(request, reply, 0)
    assert request.louder is None and abs(ended_at - (0.8 + len(said) / SAMPLE_RATE + END_GAP)) <= 0.4


def test_hey_as_heard_over_other_voices_still_greets_the_name():
    from companion.listen.wake import opens_like_hey

    for heard in ("Take companion", "They're companions.", "Pay Companion", "Hei compalian", "Fake companion"):
        assert sounds_like_name(heard, "companion"), heard
    assert not sounds_like_name("The companion.", "companion")  # "the" is no greeting
    assert not sounds_like_name("Take care.", "companion")
    assert opens_like_hey("Take a party.") and opens_like_hey("They can pay them.") and opens_like_hey("A.")
    assert not opens_like_hey("The river was calm.") and not opens_like_hey("They went home after a long day at work.")


def test_a_second_decode_close_to_the_name_or_the_name_twice_counts_when_said_alone():
    from companion.listen.wake import confirmed

    assert confirmed("Compadiant.", "companion", pause=True) == ""
    assert confirmed("Companion. Compandion,", "companion", pause=True) == ""
    assert confirmed("Compadiant.", "companion", pause=False) is None
    assert confirmed("Companion. Compandion,", "companion", pause=False) is None
    assert confirmed("Companion, the weather.", "companion", pause=True) is None


def test_the_name_misheard_twice_wakes_only_when_the_recognizer_finds_it_likely(tmp_path):
    from companion.listen.wake import NAME_SCORE

    said = load16k(espeak_wav("Hey Companion.", tmp_path / "a.wav"))
    quiet = np.zeros(SAMPLE_RATE, np.float32)
    stream = np.concatenate([quiet, said, quiet])
    for first, score, woken, asked in (("Take a party.", NAME_SCORE + 1.0, True, True),
                                       ("Take a party.", NAME_SCORE - 1.0, False, True),
                                       ("The weather is nice.", NAME_SCORE + 1.0, False, False)):
        scored: list[int] = []
        detector = WakeDetector(lambda audio: first, "companion", decode_near=lambda audio: first,
                                name_score=lambda audio: scored.append(len(audio)) or score)
        call = next((c for i in range(0, len(stream), 320) if (c := detector.accept(stream[i:i + 320]))), None)
        assert (call is not None) == woken and bool(scored) == asked, (first, score, call)
        if woken:
            assert call.rest == "" and call.pause


def test_a_request_after_a_misheard_name_is_found_only_when_it_is_understood():
    from companion.listen.wake import _request_after_a_misheard_name as after

    assert after("Compan years, help me ground.", "companion") == "help me ground"
    assert after("Hey Campanion, I want to check in.", "companion") == "I want to check in"
    assert after("They can pay the rent.", "companion") is None
