"""The microphone and speaker classes on the private PulseAudio server: devices at 44.1 and 48 kHz are
opened at their own rate and resampled, and what comes out is real speech Whisper can read."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import librivox_utterances

from companion.events import SAMPLE_RATE
from companion.speech import models
from companion.textnorm import word_error_rate

pytestmark = pytest.mark.audio


@pytest.mark.parametrize("rate", [8000, 11025, 44100, 48000])
def test_microphone_at_native_rates_resamples_to_16k(virtual_audio, rate):
    """Opened at its own rate, usual or odd (8 and 11.025 kHz), the microphone gives 16 kHz audio."""
    from companion.audio.capture import Microphone

    wav, text = librivox_utterances()[0]
    with Microphone(rate=rate) as mic:
        assert mic.rate == rate
        mic.drain()
        virtual_audio.play_into_mic(wav, wait=False)
        chunks = []
        deadline = time.monotonic() + sf.info(str(wav)).duration + 1.5
        while time.monotonic() < deadline:
            chunks.append(mic.read())
        virtual_audio.join_player()
    samples = np.concatenate([c.samples for c in chunks])
    assert all(c.rate == SAMPLE_RATE for c in chunks)
    # chunk times are continuous: each starts where the previous ended
    assert all(abs(b.start - a.end) < 1e-6 for a, b in zip(chunks, chunks[1:]))
    assert abs(len(samples) / SAMPLE_RATE - (chunks[-1].end - chunks[0].start)) < 1e-3
    heard = " ".join(t.text for t in models.load(models.embedded_model()).transcribe(samples))
    assert word_error_rate(text, heard) <= (0.2 if rate == 8000 else 0.15), heard


def test_speaker_plays_and_falls_silent_at_once(virtual_audio, tmp_path):
    from companion.audio.playback import Speaker

    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 22050) / 22050)).astype(np.float32)
    with Speaker() as speaker:
        recording = virtual_audio.record_speaker(tmp_path / "out.wav")
        clip = speaker.play(tone, 22050)
        time.sleep(1.0)
        silenced_at = time.monotonic()
        speaker.silence()
        assert clip.done.is_set() and clip.cancelled
        time.sleep(1.0)
        path = recording.stop()
    samples, rate = sf.read(str(path), dtype="float32")
    frame = rate // 100
    n = len(samples) // frame
    loud = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1)) > 0.01
    last_loud = np.flatnonzero(loud)[-1] * frame / rate + recording.started_at
    played = loud.sum() / 100
    assert 0.7 < played < 1.5, played  # about one second of the three played
    assert last_loud - silenced_at < 0.3, "silent within 300 ms of being told"
