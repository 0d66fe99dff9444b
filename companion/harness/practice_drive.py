"""Driving `companion ground` through the private PulseAudio server: the speaker recorded, and spoken
commands played into the virtual microphone at moments chosen from the run's own timing log.
Used by the end-to-end tests and scripts/bench_practice.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from companion.harness.measure import NOMINAL_LATENCY, read_log, speech_end
from companion.harness.drive import interruptible
from companion.harness.virtual_audio import MIC_SOURCE, SpeakerRecording, VirtualAudio


@dataclass(frozen=True)
class Say:
    """Play `wav` into the microphone `delay` seconds after the `occurrence`-th cue whose sound
    contains `cue` is heard (by the log's schedule); with no `occurrence`, after the next such cue
    queued after the one the previous Say used, and still ahead. Give up waiting for the cue after
    `within` seconds (None: as long as the run lasts). With `confirm`, the command must be seen
    acted on (a cue containing `confirm` queued within `confirm_within` seconds), else it is
    played again, up to `retries` times."""

    cue: str
    wav: Path
    delay: float = 0.5
    occurrence: int | None = 1
    within: float | None = None
    confirm: str | None = None
    confirm_within: float = 4.0
    retries: int = 0


@dataclass
class Spoken:
    wav: Path
    started: float  # monotonic
    speech_end: float  # monotonic time the words ended, from when the player was started
    heard_end: float | None = None  # the same, found in a recording of the microphone (more exact)
    say: Say | None = None
    acted: bool | None = None  # with `confirm`: whether Companion was seen acting on it


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
    cpu: float = 0.0  # CPU seconds used by the companion process (to its last sample)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, CPU seconds so far)
    peak_mb: float = 0.0  # the companion process's peak resident memory (VmHWM, sampled)

    def rec_time(self, monotonic: float) -> float:
        return monotonic - self.started_at

    def cpu_share(self, since: float) -> float | None:
        """The companion process's CPU use from `since` (monotonic) to its last sample, as a
        fraction of one core."""
        later = [(t, c) for t, c in self.cpu_samples if t >= since]
        if len(later) < 2 or later[-1][0] - later[0][0] <= 0:
            return None
        return (later[-1][1] - later[0][1]) / (later[-1][0] - later[0][0])


class _CpuSampler(threading.Thread):
    """Samples one process's own CPU time (user + system, from /proc) and its peak resident memory
    (VmHWM) until it exits."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.pid, self.every, self.samples = pid, every, []
        self.peak_mb = 0.0
        self._tick = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while True:
            try:
                with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                return
            if fields[0] == "Z":  # exited, not yet reaped
                return
            self.samples.append((time.monotonic(), (int(fields[11]) + int(fields[12])) / self._tick))
            try:
                with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
                    hwm = [line for line in f if line.startswith("VmHWM:")]
                self.peak_mb = max(self.peak_mb, int(hwm[0].split()[1]) / 1024) if hwm else self.peak_mb
            except OSError:
                return
            time.sleep(self.every)


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


class _Log:
    """The run's timing log, read as it is written."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen, self._offset = path, [], 0

    def update(self) -> list[dict]:
        self._offset = _tail(self.path, self.seen, self._offset)
        return self.seen


def _wait_for_cue(log: _Log, say: Say, used: int, running) -> tuple[int, dict] | None:
    """(index, entry) of the cue `say` is timed from, once it is in the log; None on giving up."""
    until = time.monotonic() + say.within if say.within is not None else float("inf")
    while running() and time.monotonic() < until:
        seen = log.update()
        matches = [(i, c) for i, c in enumerate(seen) if c["t"] == "cue" and say.cue in c["sound"]]
        if say.occurrence is not None:
            if len(matches) >= say.occurrence:
                return matches[say.occurrence - 1]
        else:
            ahead = [(i, c) for i, c in matches if i > used and _cue_time(c) + say.delay >= time.monotonic()]
            if ahead:
                return ahead[0]
        time.sleep(0.01)
    return None


def _wait_for_confirm(log: _Log, say: Say, mark: int, running) -> bool:
    until = time.monotonic() + say.confirm_within
    while running() and time.monotonic() < until:
        if any(c["t"] == "cue" and say.confirm in c["sound"] for c in log.update()[mark:]):
            return True
        time.sleep(0.02)
    return any(c["t"] == "cue" and say.confirm in c["sound"] for c in log.update()[mark:])


def _play(audio: VirtualAudio, say: Say) -> Spoken:
    samples, rate = sf.read(str(say.wav), dtype="float32", always_2d=True)
    begin, _ = audio.play_into_mic(say.wav)
    return Spoken(say.wav, begin, begin + speech_end(samples.mean(axis=1), rate), say=say)


def drive_practice(audio: VirtualAudio, args: list[str], env: dict[str, str], workdir: Path,
                   says: list[Say] = (), timeout: float = 900.0) -> PracticeRun:
    """Run `companion ground ARGS`, recording the speaker and speaking `says` into the microphone."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "timing.jsonl"
    recording = audio.record_speaker(workdir / "speaker.wav")
    mic_recording = record_microphone(audio, workdir / "microphone.wav") if says else None
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "companion", "ground", *args, "--timing-log", str(log_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    sampler = _CpuSampler(proc.pid)
    sampler.start()
    log = _Log(log_path)
    spoken: list[Spoken] = []
    used = -1  # index in the log of the cue the previous Say was timed from

    def running() -> bool:
        return proc.poll() is None and time.monotonic() - started < timeout

    try:
        for say in says:
            found = _wait_for_cue(log, say, used, running)
            if found is None:
                if not running():
                    break
                continue  # gave up on this one
            used, cue = found
            time.sleep(max(0.0, _cue_time(cue) + say.delay - time.monotonic()))
            for _ in range(1 + say.retries):
                mark = len(log.update())
                spoken.append(_play(audio, say))
                if say.confirm is None:
                    break
                spoken[-1].acted = _wait_for_confirm(log, say, mark, running)
                if spoken[-1].acted or not running():
                    break
        stdout, stderr = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    sampler.join(timeout=2)
    cpu = sampler.samples[-1][1] if sampler.samples else 0.0
    time.sleep(0.3)  # the last sound reaches the recording
    wav = recording.stop()
    samples, rate = sf.read(str(wav), dtype="float32")
    if mic_recording is not None:
        mic, mic_rate = sf.read(str(mic_recording.stop()), dtype="float32")
        for s in spoken:
            s.heard_end = _heard_end(mic, mic_rate, mic_recording.started_at, s)
    return PracticeRun(proc.returncode, stdout, stderr, read_log(log_path) if log_path.exists() else [],
                       samples, rate, recording.started_at, spoken, wall, cpu, list(sampler.samples), sampler.peak_mb)
