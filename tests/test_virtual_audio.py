"""Real-audio tests of the private PulseAudio server (companion.harness.virtual_audio)."""

from __future__ import annotations

import math
import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from speech_fixtures import (
    active_span,
    espeak_wav,
    librivox_utterances,
    rms,
    silence_padded,
)

from companion.harness.virtual_audio import VirtualAudio, has_real_input_device

pytestmark = pytest.mark.audio


def _record_default_input(play, lead: float = 0.4, tail: float = 0.5):
    """Record the default input (PortAudio) around the call `play()`.

    Returns (samples, rate, play's return value).
    """
    import sounddevice as sd

    rate = int(sd.query_devices(kind="input")["default_samplerate"])
    q: queue.Queue[np.ndarray] = queue.Queue()

    def callback(indata, frames, time_info, status):  # only queues
        q.put(indata.copy())

    with sd.InputStream(samplerate=rate, channels=1, dtype="float32", callback=callback):
        time.sleep(lead)
        result = play()
        time.sleep(tail)
    chunks = [q.get_nowait() for _ in range(q.qsize())]
    x = np.concatenate(chunks)[:, 0] if chunks else np.zeros(0, np.float32)
    return x, rate, result


def _dominant_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def test_server_is_default_device_for_portaudio(virtual_audio: VirtualAudio):
    import sounddevice as sd

    info = virtual_audio.pactl("info")
    assert "Default Sink: companion_speaker" in info
    assert "Default Source: companion_mic.monitor" in info
    assert sd.query_devices(kind="input")["max_input_channels"] >= 1
    assert sd.query_devices(kind="output")["max_output_channels"] >= 1
    assert virtual_audio.env["PULSE_SERVER"] == f"unix:{virtual_audio.socket}"


def test_default_input_hears_speech_played_into_mic(virtual_audio: VirtualAudio, tmp_path: Path):
    speech = espeak_wav("Hello, I had a long day today and I would like to talk.", tmp_path / "s.wav")
    src, src_rate = sf.read(speech, dtype="float32")
    src_span = active_span(src, src_rate)
    assert src_span is not None
    src_active = src_span[1] - src_span[0]
    assert src_active > 1.5

    x, rate, (started, ended) = _record_default_input(lambda: virtual_audio.play_into_mic(speech))
    # the server keeps its sinks at low latency: paplay takes about the clip's
    # length (a cold null sink would add up to 2 s; busy machines add a little)
    assert -0.1 < (ended - started) - len(src) / src_rate < 0.8
    assert len(x) / rate > len(src) / src_rate + 0.5

    span = active_span(x, rate)
    assert span is not None, f"nothing heard (rms {rms(x):.5f})"
    # the speech is all there: same length of activity, and it starts after the lead silence
    assert span[1] - span[0] == pytest.approx(src_active, abs=0.15)
    assert span[0] > 0.2
    assert rms(x[: int(0.2 * rate)]) < 1e-3
    # same loudness (null sinks at 100 % volume, only resampled)
    a0, a1 = int(span[0] * rate), int(span[1] * rate)
    s0, s1 = int(src_span[0] * src_rate), int(src_span[1] * src_rate)
    assert rms(x[a0:a1]) == pytest.approx(rms(src[s0:s1]), rel=0.25)


def test_default_input_hears_librivox_clip(virtual_audio: VirtualAudio, tmp_path: Path):
    utterances = librivox_utterances()
    assert len(utterances) == 5
    wav, text = utterances[1]
    assert text == "he was not an ill disposed young man"
    padded = silence_padded(wav, tmp_path / "padded.wav", before=0.2, after=0.2)
    src, src_rate = sf.read(padded, dtype="float32")
    x, rate, _ = _record_default_input(lambda: virtual_audio.play_into_mic(padded))
    assert len(x) / rate >= len(src) / src_rate
    assert rms(x) > 0.3 * rms(src) * (len(src) / src_rate) ** 0.5 / (len(x) / rate) ** 0.5


def test_record_speaker_captures_default_output(virtual_audio: VirtualAudio, tmp_path: Path):
    import sounddevice as sd

    rate = int(sd.query_devices(kind="output")["default_samplerate"])
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

    rec = virtual_audio.record_speaker(tmp_path / "speaker.wav")
    assert rec.started_at <= time.monotonic()
    time.sleep(0.3)
    t_play = time.monotonic()
    sd.play(tone, rate, blocking=True)
    time.sleep(0.3)
    assert sf.info(str(rec.path)).duration == pytest.approx(rec.duration, abs=0.1)  # valid while recording
    path = rec.stop()
    assert rec.stop() == path  # idempotent

    y, r = sf.read(path, dtype="float32")
    assert r == 16000 and y.ndim == 1
    assert len(y) / r == pytest.approx(1.6, abs=0.4)
    span = active_span(y, r, threshold=0.05)
    assert span is not None, f"nothing recorded (rms {rms(y):.5f})"
    assert span[1] - span[0] == pytest.approx(1.0, abs=0.1)
    seg = y[int(span[0] * r) : int(span[1] * r)]
    assert rms(seg) == pytest.approx(0.5 / math.sqrt(2), rel=0.15)
    assert _dominant_frequency(seg, r) == pytest.approx(440, abs=5)
    # started_at maps file positions to monotonic time: the tone starts shortly after play()
    onset = rec.started_at + span[0]
    assert -0.05 < onset - t_play < 0.4, onset - t_play


def test_play_into_mic_without_waiting(virtual_audio: VirtualAudio, tmp_path: Path):
    speech = espeak_wav("one two three", tmp_path / "s.wav")
    start, end = virtual_audio.play_into_mic(speech, wait=False)
    assert math.isnan(end)
    assert virtual_audio.player is not None
    finished = virtual_audio.join_player(timeout=10)
    assert -0.1 < (finished - start) - sf.info(str(speech)).duration < 0.8


def test_loopback_routes_speaker_into_mic(virtual_audio: VirtualAudio, tmp_path: Path):
    """What the speaker plays reaches the microphone (used for echo tests)."""
    r = 16000
    tone = (0.5 * np.sin(2 * np.pi * 660 * np.arange(r) / r)).astype(np.float32)
    sf.write(tmp_path / "tone.wav", tone, r)
    env = {**os.environ, **virtual_audio.env}
    virtual_audio.loopback_speaker_to_mic()
    try:
        x, rate, _ = _record_default_input(
            lambda: subprocess.run(
                ["paplay", "-d", "companion_speaker", str(tmp_path / "tone.wav")],
                env=env, check=True, timeout=10,
            )
        )
    finally:
        virtual_audio.unload_loopback()
    span = active_span(x, rate, threshold=0.05)
    assert span is not None, "the loopback carried nothing"
    assert span[1] - span[0] == pytest.approx(1.0, abs=0.15)
    assert _dominant_frequency(x[int(span[0] * rate) : int(span[1] * rate)], rate) == pytest.approx(660, abs=5)
    assert "sink=companion_mic" not in virtual_audio.pactl("list", "short", "modules")


def test_server_stops_and_restarts(tmp_path: Path):
    va = VirtualAudio(tmp_path / "va")
    with va:
        assert va.running
        pid = va._proc.pid
    assert not va.running
    assert not _alive(pid)
    with va:  # can be started again
        assert "companion_mic" in va.pactl("list", "short", "sinks")
    assert not va.running


def test_server_dies_with_its_parent(tmp_path: Path):
    """Even a SIGKILLed owner leaves no pulseaudio behind."""
    code = (
        "import os, signal, sys; from pathlib import Path; "
        "from companion.harness.virtual_audio import VirtualAudio; "
        f"va = VirtualAudio(Path({str(tmp_path / 'va')!r})).start(); "
        "print(va._proc.pid, flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert res.returncode == -9, res.stderr
    pid = int(res.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_long_workdir_gets_short_socket(tmp_path: Path):
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    with VirtualAudio(deep) as va:
        assert len(str(va.socket)) < 100
        assert va.pactl("info")
    assert not va.socket.parent.exists()


def test_has_real_input_device_is_a_bool():
    result = has_real_input_device()
    assert isinstance(result, bool)
    if not Path("/proc/asound/cards").exists():
        assert result is False
