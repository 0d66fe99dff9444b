"""An answer interrupted by kill -9 is found and stored on the next start, losing at most ~1 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import soundfile as sf
from speech_fixtures import espeak_wav, librivox_utterances

from companion.audio.resample import resample
from companion.audio.wavfile import GrowingWav
from companion.conversation.recovery import recover
from companion.notice.flow import CHECKIN_PROMPT
from companion.speech import models
from companion.store import pending as recovery
from companion.store.database import Store
from companion.textnorm import normalize_words, word_error_rate

RECORDER = """
import sys, time
from pathlib import Path
import soundfile as sf
from companion.audio.wavfile import GrowingWav
from companion.store.pending import Pending, mark_pending
samples, rate = sf.read(sys.argv[1], dtype="float32")
path = Path(sys.argv[2])
mark_pending(path, Pending("reflection", "What felt important today?", "2026-11-25T10:00:00+00:00"))
wav = GrowingWav(path)
for i in range(0, len(samples), 800):
    wav.write(samples[i:i + 800])
    print(wav.frames, flush=True)
    time.sleep(0.05)
"""


def test_kill_9_mid_answer_then_recover(companion_home):
    wav, text = librivox_utterances()[0]  # 7.1 s
    folder = companion_home / "audio" / "2026-11"
    folder.mkdir(parents=True)
    target = folder / "reflection-1-1.wav"
    child = subprocess.Popen([sys.executable, "-c", RECORDER, str(wav), str(target)], stdout=subprocess.PIPE, text=True)
    written = 0
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        written = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert recovery.pending_answers() == [recovery.marker_for(target)]

    with Store.open() as store:
        engine = models.load(models.embedded_model())
        [entry_id] = recover(store, engine)
        entry = store.get_entry(entry_id)
        assert recovery.pending_answers() == []
        assert recover(store, engine) == []  # once only
    kept = sf.info(str(target))
    lost = written / 16000 - kept.duration
    assert lost <= 1.0, f"lost {lost:.2f} s"
    assert entry["duration"] == kept.duration and entry["extra"] == {"recovered": True}
    assert entry["prompt"] == "What felt important today?"
    heard = normalize_words(entry["text"])
    said = normalize_words(text)[: len(heard)]  # what reached the disk is the start of the clip
    assert len(heard) >= 6 and word_error_rate(" ".join(said), entry["text"]) <= 0.25, entry["text"]


def test_a_recovered_check_in_gets_its_body_states(companion_home, tmp_path):
    """A check-in cut off before it was stored is mapped to body states like one stored at once."""
    samples, rate = sf.read(str(espeak_wav("Tired, and a little open.", tmp_path / "checkin.wav")), dtype="float32")
    audio = companion_home / "audio" / "2026-11" / "checkin-1.wav"
    audio.parent.mkdir(parents=True)
    recovery.mark_pending(audio, recovery.Pending("checkin", CHECKIN_PROMPT, "2026-11-25T10:00:00+00:00"))
    recovery.release(audio)  # the recording process stopped
    with GrowingWav(audio) as wav:
        wav.write(resample(samples, rate, 16000))
    with Store.open() as store:
        [entry_id] = recover(store, models.load(models.embedded_model()))
        entry = store.get_entry(entry_id)
        assert "tired" in normalize_words(entry["text"]), entry["text"]
        assert {"tired", "open"} <= set(store.entry_states(entry_id)), (entry["text"], store.entry_states(entry_id))
        assert entry["extra"]["recovered"] is True and "tired" in entry["extra"]["states"]


def test_a_damaged_marker_does_not_lose_the_answer(companion_home):
    """A marker cut short by a crash (or otherwise unreadable): the audio is still kept, as an answer
    to no particular question, and every later start works."""
    wav, text = librivox_utterances()[0]
    samples, rate = sf.read(str(wav), dtype="float32")
    audio = companion_home / "audio" / "2026-11" / "reflection-1-1.wav"
    audio.parent.mkdir(parents=True)
    with GrowingWav(audio) as out:
        out.write(resample(samples, rate, 16000))
    recovery.marker_for(audio).write_bytes(b'{"kind": "refl')
    with Store.open() as store:
        engine = models.load(models.embedded_model())
        [entry_id] = recover(store, engine)
        entry = store.get_entry(entry_id)
        assert entry["kind"] == "reflection" and entry["prompt"] is None
        assert word_error_rate(text, entry["text"]) <= 0.25, entry["text"]
        assert recover(store, engine) == []
