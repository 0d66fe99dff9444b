"""Driving `companion ground` through the private PulseAudio server: the speaker recorded, and spoken
commands played into the virtual microphone at moments chosen from the run's own timing log.
Used by the end-to-end tests and scripts/bench_practice.py."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from companion.practice.measure import NOMINAL_LATENCY, read_log, speech_end
from companion.virtual_audio import MIC_SOURCE, SpeakerRecording, VirtualAudio


@dataclass(frozen=True)
class Say:
    """Play `wav` into the microphone `delay` seconds after the `occurrence`-th cue whose sound
    contains `cue` is heard (by the log's schedule)."""

    cue: str
    wav: Path
    delay: float = 0.5
    occurrence: int = 1


@dataclass
class Spoken:
    wav: Path
    started: float  # monotonic
    speech_end: float  # monotonic time the words ended, from when the player was started
    heard_end: float | None = None  # the same, found in a recording of the microphone (more exact)


@dataclass
class PracticeRun:
    returncode: int
    stdout: str
    stderr: str
    log: list[dict]
    recording: np.ndarray
    rate: int
    started_at: float  # monotonic time of the recording's first sample
    spoken: list[Spoken] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0  # CPU seconds used by the companion process

    def rec_time(self, monotonic: float) -> float:
        return monotonic - self.started_at


def _cue_time(cue: dict) -> float:
    """When a logged cue is heard, as a monotonic time (close: for choosing moments only)."""
    return cue["mono"] + (cue["frame"] - cue["queued_clock"]) / cue["rate"] + NOMINAL_LATENCY


def _tail(path: Path, seen: list[dict], offset: int) -> int:
    if not path.exists():
        return offset
    with path.open("r", encoding="utf-8") as f:
        f.seek(offset)
        while True:
            line = f.readline()
            if not line.endswith("\n"):
                return offset
            offset += len(line.encode("utf-8"))
            seen.append(json.loads(line))


def record_microphone(audio: VirtualAudio, out: Path, rate: int = 16000) -> SpeakerRecording:
    """Record what the microphone hears, the same way the speaker is recorded (so both recordings
    share their small start-up error, and command ends compare fairly with silences)."""
    launched = time.monotonic()
    proc = subprocess.Popen(["parec", "--raw", "-d", MIC_SOURCE, f"--rate={rate}", "--channels=1", "--format=s16le",
                             "--latency-msec=20"], env={**__import__("os").environ, **audio.env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    recording = SpeakerRecording(proc, out, rate, launched)
    recording.wait_started()
    return recording


def _heard_end(mic: np.ndarray, rate: int, started_at: float, spoken: Spoken, threshold: float = 0.01) -> float | None:
    """The end of a spoken command in the microphone recording, searched near where it was played."""
    lo = max(0, int((spoken.started - started_at - 0.2) * rate))
    hi = min(len(mic), int((spoken.speech_end - started_at + 0.5) * rate))
    loud = np.flatnonzero(np.abs(mic[lo:hi]) >= threshold)
    return started_at + (lo + loud[-1] + 1) / rate if len(loud) else None


def drive_practice(audio: VirtualAudio, args: list[str], env: dict[str, str], workdir: Path,
                   says: list[Say] = (), timeout: float = 900.0) -> PracticeRun:
    """Run `companion ground ARGS`, recording the speaker and speaking `says` into the microphone."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "timing.jsonl"
    recording = audio.record_speaker(workdir / "speaker.wav")
    mic_recording = record_microphone(audio, workdir / "microphone.wav") if says else None
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "companion", "ground", *args, "--timing-log", str(log_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[dict] = []
    offset = 0
    spoken: list[Spoken] = []
    try:
        for say in says:
            cue = None
            while cue is None and proc.poll() is None and time.monotonic() - started < timeout:
                offset = _tail(log_path, seen, offset)
                matches = [c for c in seen if c["t"] == "cue" and say.cue in c["sound"]]
                cue = matches[say.occurrence - 1] if len(matches) >= say.occurrence else None
                time.sleep(0.01)
            if cue is None:
                break
            time.sleep(max(0.0, _cue_time(cue) + say.delay - time.monotonic()))
            samples, rate = sf.read(str(say.wav), dtype="float32", always_2d=True)
            begin, _ = audio.play_into_mic(say.wav)
            spoken.append(Spoken(say.wav, begin, begin + speech_end(samples.mean(axis=1), rate)))
        stdout, stderr = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    time.sleep(0.3)  # the last sound reaches the recording
    wav = recording.stop()
    samples, rate = sf.read(str(wav), dtype="float32")
    if mic_recording is not None:
        mic, mic_rate = sf.read(str(mic_recording.stop()), dtype="float32")
        for s in spoken:
            s.heard_end = _heard_end(mic, mic_rate, mic_recording.started_at, s)
    return PracticeRun(proc.returncode, stdout, stderr, read_log(log_path) if log_path.exists() else [],
                       samples, rate, recording.started_at, spoken, wall, cpu)
