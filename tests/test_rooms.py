"""Real rooms: voice-activity detection that tells speech from a fan, other voices and music, and a
transcript that never holds words nobody said. Real parts only: Silero VAD from faster-whisper,
Whisper, real LibriVox speech, noise made by companion/harness/rooms.py, the private PulseAudio
server for the reflection."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import librivox_utterances

from companion.audio.resample import resample
from companion.events import Word
from companion.harness import rooms
from companion.speech import hallucination
from companion.speech.silero import FRAME, FRAME_SECONDS, SileroModel, SileroStream, VoiceDetector
from companion.textnorm import missing_word_rate, normalize_words, word_error_rate

TARGET = 0.05


def speech(index: int = 0) -> tuple[np.ndarray, str]:
    wav, text = librivox_utterances()[index]
    samples, rate = sf.read(str(wav), dtype="float32")
    samples = resample(samples, rate, 16000)
    return samples * (TARGET / np.sqrt(rooms.voiced_power(samples))), text


def noise(kind: str, seconds: float, snr_db: float = 10.0) -> np.ndarray:
    n = rooms.NOISES[kind](seconds)
    return (n * (TARGET / np.sqrt(np.mean(n.astype(np.float64) ** 2)) / 10 ** (snr_db / 20))).astype(np.float32)


def segments(detector: VoiceDetector, audio: np.ndarray, chunk: int = 800, gap: float = 0.8) -> list[tuple[float, float]]:
    """(start, end) of each stretch the detector calls voice, closed after `gap` seconds of quiet."""
    out = []
    for i in range(0, len(audio), chunk):
        detector.accept(audio[i : i + chunk])
        if detector.in_speech and detector.silence_for() >= gap:
            out.append((detector.speech_started_at, detector.last_voice_time))
            detector.end_segment()
    if detector.in_speech:
        out.append((detector.speech_started_at, detector.last_voice_time))
    return out


def test_the_silero_model_is_the_one_companion_knows():
    """Pinned: a faster-whisper upgrade that changes the model's inputs or its answer on silence fails here."""
    session = SileroModel.shared().session
    assert [(i.name, i.shape[-1] if i.name == "input" else i.shape) for i in session.get_inputs()] == [
        ("input", 576), ("h", [1, 1, 128]), ("c", [1, 1, 128])]
    assert FRAME == 512
    probability = SileroStream().accept(np.zeros(FRAME, np.float32))
    assert probability.shape == (1,) and probability[0] == pytest.approx(0.0238, abs=0.005)


def test_the_state_is_carried_across_chunks():
    samples, _ = speech()
    whole = SileroStream().accept(samples)
    stream, pieces, i = SileroStream(), [], 0
    rng = np.random.default_rng(4)
    while i < len(samples):  # chunks of every size, none on a frame boundary
        n = int(rng.integers(100, 2000))
        pieces.append(stream.accept(samples[i : i + n]))
        i += n
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-5)
    assert len(whole) == len(samples) // FRAME and whole.max() > 0.9  # real speech is found


@pytest.mark.parametrize("kind", ["fan", "babble", "music"])
def test_noise_alone_is_not_voice(kind):
    """Two minutes of a fan, of other people talking, of music: no voice (the energy detector's
    loud stretches are not enough: it must be a voice, and clearly above the room)."""
    assert segments(VoiceDetector(), noise(kind, 120.0)) == []


@pytest.mark.parametrize("kind, snr", [(None, None), ("fan", 10.0), ("babble", 10.0)])
def test_speech_is_found_in_the_room(kind, snr):
    samples, _ = speech(1)
    onset, offset = rooms.voice_span(samples)
    lead = np.zeros(3 * 16000, np.float32)
    audio = np.concatenate([lead, samples, np.zeros(4 * 16000, np.float32)])
    if kind:
        audio = audio + rooms.fit(noise(kind, 30.0, snr), len(audio), 5000)
    found = segments(VoiceDetector(), audio.astype(np.float32))
    assert found, "the speech was not found"
    start, end = found[0][0], found[-1][1]
    assert abs(start - (3 + onset)) <= 0.25, (start, 3 + onset)
    assert abs(end - (3 + offset)) <= 0.4, (end, 3 + offset)
    assert len(found) <= 2  # one answer, perhaps with a pause in it, not cut into pieces


def test_an_answer_ends_when_other_voices_go_on_after_a_quiet_moment():
    """Other people talk on after the answer, and the room was quieter than usual for a moment just
    before it: that moment is not taken for the room's level (which would make every louder passage
    of the other voices a voice, and the answer would never end)."""
    samples, _ = speech(1)
    _, offset = rooms.voice_span(samples)
    room = noise("babble", 30.0, 10.0)
    room[: int(0.6 * 16000)] *= 0.5  # the other voices 6 dB quieter for 0.6 s
    lead = int(1.5 * 16000)
    audio = room.copy()
    audio[lead : lead + len(samples)] += samples
    detector, ended = VoiceDetector(), None
    for i in range(0, len(audio), 800):
        detector.accept(audio[i : i + 800])
        if detector.last_voice_time is not None and detector.silence_for() >= 2.5:
            ended = detector.now
            break
    assert ended is not None, "the other voices held the answer open"
    assert ended - (1.5 + offset) <= 3.5, ended - (1.5 + offset)


@pytest.mark.parametrize("order", [(3, 1, 4), (1, 2, 3)])
def test_a_long_answer_over_other_voices_is_not_closed_in_its_pauses(order):
    """Three sentences with 1.6-s pauses between them, other people talking 5 dB below: with the
    answer's detector, the answer is not closed before its end (the voice's soft ends, barely over the
    other voices, are not taken for quiet), and its end is still found within the silence + 1 s."""
    from companion.conversation.answer import ANSWER_VOICE
    from companion.speech.silero import DetectorConfig

    parts, at, end = [np.zeros(24000, np.float32)], 1.5, 0.0
    for i, index in enumerate(order):
        samples, _ = speech(index)
        end = at + rooms.voice_span(samples)[1]
        parts.append(samples)
        at += len(samples) / 16000
        if i < len(order) - 1:
            parts.append(np.zeros(int(1.6 * 16000), np.float32))
            at += 1.6
    parts.append(np.zeros(6 * 16000, np.float32))
    said = np.concatenate(parts)
    audio = said + noise("babble", 60.0, 5.0)[: len(said)]

    def closed(config: DetectorConfig) -> float | None:
        detector = VoiceDetector(config)
        for i in range(0, len(audio), 800):
            detector.accept(audio[i : i + 800])
            if detector.last_voice_time is not None and detector.silence_for() >= 2.5:
                return detector.now
        return None

    ended = closed(ANSWER_VOICE)
    assert ended is not None and 0 < ended - end <= 3.5, (ended, end)
    plain = closed(DetectorConfig())  # the same detector without it closes in a pause
    assert plain is not None and plain < end, (plain, end)


def test_the_quiet_after_an_answer_counts_from_its_last_word_within_a_bound():
    """Over other voices a word's soft end can be lost by the detector while the recognizer writes the
    word: the quiet then counts from the word's end, but never more than WORD_TAIL past the voice."""
    from companion.conversation.answer import WORD_TAIL, quiet_after_voice

    said = [Word("than", 13.6, 13.8, 0.9), Word("he", 13.8, 13.95, 0.9), Word("was.", 13.95, 14.2, 0.9)]
    assert quiet_after_voice(16.0, 13.82, said) == pytest.approx(16.0 - 14.2)  # from the last word's end
    assert quiet_after_voice(16.0, 14.5, said) == pytest.approx(16.0 - 14.5)  # the voice went on after it
    assert quiet_after_voice(16.0, 13.82, []) == pytest.approx(16.0 - 13.82)  # nothing written yet
    read_into_the_room = said + [Word("see", 15.0, 15.3, 0.4)]
    assert quiet_after_voice(16.0, 13.82, read_into_the_room) == pytest.approx(16.0 - 13.82 - WORD_TAIL)


# --- words nobody said ------------------------------------------------------------------------------


def words(text: str, start: float = 0.0, step: float = 0.4, conf: float = 0.9) -> list[Word]:
    return [Word(w, start + i * step, start + i * step + 0.3, conf) for i, w in enumerate(text.split())]


def test_words_where_nobody_spoke_are_left_out():
    said = words("I felt lighter today.")  # 0.0 - 1.5 s
    invented = words("Thank you.", start=2.4)  # over silence
    probabilities = [0.95] * int(1.6 / FRAME_SECONDS) + [0.02] * int(2.0 / FRAME_SECONDS)
    kept = hallucination.without_inventions(said + invented, probabilities, FRAME_SECONDS)
    assert [w.word for w in kept] == ["I", "felt", "lighter", "today."]


def test_stock_phrases_are_kept_only_when_said_clearly():
    voiced = [0.95] * int(3 / FRAME_SECONDS)
    murky = [0.45] * int(3 / FRAME_SECONDS)
    assert [w.word for w in hallucination.without_inventions(words("Thank you."), voiced, FRAME_SECONDS)] == ["Thank", "you."]
    assert hallucination.without_inventions(words("Thank you.", conf=0.3), voiced, FRAME_SECONDS) == []
    assert hallucination.without_inventions(words("See you next time."), murky, FRAME_SECONDS) == []
    lone = words("I felt lighter. Thank", conf=0.9)
    lone[-1] = Word("Thank", lone[-1].start, lone[-1].end, 0.01)  # a stock phrase begun on the answer's last breath
    assert [w.word for w in hallucination.without_inventions(lone, voiced, FRAME_SECONDS)] == ["I", "felt", "lighter."]
    kept = hallucination.without_inventions(words("I wanted to say thank you to her."), murky, FRAME_SECONDS)
    assert len(kept) == 8  # inside a sentence of one's own, "thank you" is the person's


def test_an_unsure_stock_phrase_is_kept_when_said_as_loud_as_the_rest():
    voiced = [0.95] * int(6 / FRAME_SECONDS)

    def heard(goodbye_conf: float, goodbye_db: float) -> list[str]:
        said = words("Goodbye.", conf=goodbye_conf) + words("Thank you for trying it out.", start=0.6)
        levels = {id(w): (goodbye_db if w.word == "Goodbye." else -26.0) for w in said}
        return [w.word for w in hallucination.without_inventions(said, voiced, FRAME_SECONDS, levels=levels)]

    assert heard(0.3, -26.5)[0] == "Goodbye."  # unsure, but as loud as the person's other words
    assert heard(0.3, -34.0)[0] == "Thank"  # quieter: another voice in the room, or none
    assert heard(0.05, -26.0)[0] == "Thank"  # a guess
    alone = words("Thank you.", conf=0.3)  # nothing else said: how loud the person speaks is not known
    assert hallucination.without_inventions(alone, voiced, FRAME_SECONDS, levels={id(w): -26.0 for w in alone}) == []


def test_the_question_never_comes_back_as_the_answer():
    voiced = [0.95] * int(8 / FRAME_SECONDS)
    echo = words("Question 7. Question 7. Question 7.")
    assert hallucination.without_inventions(echo, voiced, FRAME_SECONDS, question="Question 7") == []
    answer = words("What felt important today? My sister's call.")
    kept = hallucination.without_inventions(answer, voiced, FRAME_SECONDS, question="What felt important today?")
    assert " ".join(w.word for w in kept) == "My sister's call."
    loop = words("I was calm. I was calm. I was calm. I was calm.")
    assert " ".join(w.word for w in hallucination.without_inventions(loop, voiced, FRAME_SECONDS)) == "I was calm."


@pytest.fixture(scope="module")
def whisper():
    from companion.speech import models

    return models.load(models.embedded_model())


@pytest.mark.parametrize("kind", ["fan", "babble", "music"])
def test_an_import_of_noise_alone_holds_no_words(whisper, kind):
    heard = whisper.transcribe(noise(kind, 60.0))
    assert [t.text for t in heard] == []


def test_an_import_in_fan_noise_keeps_the_words(whisper):
    samples, text = speech(0)
    audio = np.concatenate([np.zeros(8000, np.float32), samples, np.zeros(16000, np.float32)])
    audio = (audio + rooms.fit(noise("fan", 20.0), len(audio))).astype(np.float32)
    heard = " ".join(t.text for t in whisper.transcribe(audio))
    assert word_error_rate(text, heard) <= 0.15, heard
    assert "thank" not in normalize_words(heard)


# --- a reflection in a room with a fan ------------------------------------------------------------


@pytest.mark.audio
def test_a_reflection_beside_a_fan_keeps_every_answer_whole_and_skips_the_silent_one(
        virtual_audio, companion_env, tmp_path):
    """The fan runs the whole time, 10 dB under the voice. Three answers (real speech), then a
    question nobody answers: three entries, each whole; the fourth question passes, nothing stored."""
    from companion.harness.drive import LISTENING_MARK, drive_command
    from companion.store.database import Store

    answers = []
    for i in (0, 2, 4):
        samples, text = speech(i)
        path = tmp_path / f"answer{i}.wav"
        sf.write(str(path), samples, 16000, subtype="PCM_16")
        answers.append((path, text, len(samples) / 16000))
    fan = tmp_path / "fan.wav"
    sf.write(str(fan), noise("fan", 120.0, 10.0), 16000, subtype="PCM_16")
    prompts = ["What felt important today?", "What is still with me?", "What do I want to notice?",
               "Is there anything else?"]
    args = ["reflect", *(a for p in prompts for a in ("--prompt", p)), "--silence", "2.5", "--wait", "8",
            "--no-crisis-note"]
    player = virtual_audio.play_background(fan)
    try:
        run = drive_command(virtual_audio, args, [(LISTENING_MARK, path) for path, _, _ in answers],
                            companion_env, timeout=240)
    finally:
        player.terminate()
        player.wait()
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert len(run.listening_at) == 4, run.stdout  # the fourth question was asked, and passed
    with Store.open() as store:
        entries = [store.get_entry(e["id"]) for e in store.list_entries(kind="reflection")]
        stored = [sf.info(str(store.audio_path(e))).duration for e in entries]
    assert [e["prompt"] for e in entries] == prompts[:3], [e["text"] for e in entries]
    said = " ".join(text for _, text, _ in answers)
    heard = " ".join(entry["text"] for entry in entries)
    assert word_error_rate(said, heard) <= 0.2, heard  # Whisper tiny may mishear a rare word ("amiable")
    for entry, seconds, (_, text, spoken) in zip(entries, stored, answers):
        assert missing_word_rate(text, entry["text"]) <= 0.15, (text, entry["text"])  # nothing lost
        assert spoken <= seconds <= spoken + 4.0, (spoken, seconds)  # whole, not the fan after it
        assert "thank" not in normalize_words(entry["text"]) or "thank" in normalize_words(text)


# --- the second pass: Whisper base for final text --------------------------------------------------


def test_an_import_with_whisper_base_the_default_final_model(companion_home, tmp_path):
    """Whisper base writes the final text by default: the model is joined from its two packages on
    first use (checked against its SHA-256, private), and an import in fan noise is decoded by it."""
    import subprocess
    import sys

    from companion.store.database import Store

    samples, text = speech(3)
    audio = np.concatenate([np.zeros(8000, np.float32), samples, np.zeros(16000, np.float32)])
    audio = (audio + rooms.fit(noise("fan", 20.0), len(audio))).astype(np.float32)
    wav = tmp_path / "in-the-kitchen.wav"
    sf.write(str(wav), audio, 16000, subtype="PCM_16")
    run = subprocess.run([sys.executable, "-m", "companion", "import", str(wav)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with Store.open() as store:
        [entry] = [store.get_entry(e["id"]) for e in store.list_entries()]
    assert entry["model"].endswith("+ whisper-base"), entry["model"]
    assert word_error_rate(text, entry["text"]) <= 0.15, entry["text"]
    shown = subprocess.run([sys.executable, "-m", "companion", "models"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "final text by whisper-base" in shown.stdout, shown.stdout
    from companion.paths import model_cache_dir

    joined = model_cache_dir() / "whisper-base"  # not in the data folder: nothing personal, shared
    assert not (companion_home / "models" / "whisper-base").exists()
    assert (joined.stat().st_mode & 0o777) == 0o700
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in joined.iterdir())


def test_a_broken_whisper_base_is_a_clear_error(tmp_path, monkeypatch):
    from companion.errors import ModelError
    from companion.speech import whisper_base

    fake = tmp_path / "fake"
    for package, part in zip(whisper_base.PACKAGES, whisper_base.PARTS):
        (fake / package / "data").mkdir(parents=True)
        (fake / package / "__init__.py").write_text("")
        (fake / package / "data" / part).write_bytes(b"not the model")
    for name in whisper_base.FILES:
        (fake / whisper_base.PACKAGES[1] / "data" / name).write_text("{}")
    monkeypatch.syspath_prepend(str(fake))
    for package in whisper_base.PACKAGES:
        monkeypatch.delitem(sys.modules, package, raising=False)
    with pytest.raises(ModelError, match="checksum differs"):
        whisper_base.whisper_base(tmp_path / "models")
    assert not (tmp_path / "models" / "whisper-base").exists()  # nothing half-joined is left to be used
    with pytest.raises(ModelError, match="no final model called"):
        whisper_base.final_model("whisper-huge")


def test_an_old_copy_of_whisper_base_in_the_data_folder_is_removed_only_when_it_is_just_the_model(
        companion_home, tmp_path, monkeypatch):
    """An older version joined the model into the data folder; once the cache holds it, that copy
    goes, but only when it holds exactly the model's files, and models/ only when it is then empty."""
    import hashlib

    from companion.speech import whisper_base

    fake = tmp_path / "fake"
    for package, part in zip(whisper_base.PACKAGES, whisper_base.PARTS):
        (fake / package / "data").mkdir(parents=True)
        (fake / package / "__init__.py").write_text("")
        (fake / package / "data" / part).write_bytes(part.encode())
    for name in whisper_base.FILES:
        (fake / whisper_base.PACKAGES[1] / "data" / name).write_text("{}")
    monkeypatch.syspath_prepend(str(fake))
    for package in whisper_base.PACKAGES:
        monkeypatch.delitem(sys.modules, package, raising=False)
    monkeypatch.setattr(whisper_base, "MODEL_SHA256", hashlib.sha256("".join(whisper_base.PARTS).encode()).hexdigest())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    models = companion_home / "models"
    old = models / "whisper-base"

    def old_copy(*extra: str) -> None:
        old.mkdir(parents=True)
        for name in ("model.bin", ".checked", *whisper_base.FILES, *extra):
            (old / name).write_text("x")

    (companion_home / "companion.db").write_text("kept")
    (models / "vosk-model-small-en-us").mkdir(parents=True)
    old_copy("notes.txt")
    made = whisper_base.whisper_base()  # joined into the cache; the old copy holds more than the model
    assert made.path == tmp_path / "cache" / "companion" / "models" / "whisper-base" and (made.path / "model.bin").is_file()
    assert sorted(p.name for p in old.iterdir()) == sorted(["model.bin", ".checked", *whisper_base.FILES, "notes.txt"])
    (old / "notes.txt").unlink()
    whisper_base.whisper_base()  # already joined: the old copy is just the model now, so it goes
    assert not old.exists() and (models / "vosk-model-small-en-us").is_dir()
    (models / "vosk-model-small-en-us").rmdir()
    old_copy()
    whisper_base.whisper_base()  # nothing else in models/: it goes too
    assert not models.exists() and (companion_home / "companion.db").read_text() == "kept"
    elsewhere = tmp_path / "elsewhere"
    old_copy()
    old.rename(elsewhere)
    old.symlink_to(elsewhere)
    whisper_base.whisper_base()  # a link points at something kept on purpose: left alone
    assert old.is_symlink() and (elsewhere / "model.bin").is_file()
    assert (made.path / "model.bin").is_file()


def test_without_whisper_base_the_listening_model_writes_unless_it_was_chosen(companion_home, tmp_path, monkeypatch):
    """A plain install without the packages: the default quietly falls back to tiny.en for the final
    text; a person who set final_model = "whisper-base" is told it is missing, with the fix."""
    from companion.errors import ModelError
    from companion.speech import whisper_base

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing joined there either
    monkeypatch.setattr(whisper_base, "PACKAGES", ("companion_test_absent_part_1", "companion_test_absent_part_2"))
    assert not whisper_base.installed()
    assert whisper_base.final_model("whisper-base", chosen=False) is None
    with pytest.raises(ModelError, match="not installed") as raised:
        whisper_base.final_model("whisper-base", chosen=True)
    assert "scripts/setup.sh" in raised.value.hint
    assert whisper_base.final_model("same", chosen=True) is None


def test_what_whisper_is_sure_is_not_speech_is_left_out():
    assert hallucination.is_not_speech(0.94, -0.96)  # a lone "the" decoded from babble
    assert hallucination.is_not_speech(0.7, -1.2)  # Whisper's own rule
    assert not hallucination.is_not_speech(0.94, -0.3)  # sure text, whatever the no-speech guess
    assert not hallucination.is_not_speech(0.2, -1.5)  # hard to hear, but speech
