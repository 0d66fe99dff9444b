"""Driving `companion reflect` through the private PulseAudio server: a person's answers spoken into
the virtual microphone, each when Companion starts listening. Used by the demo main job and the tests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from companion.virtual_audio import VirtualAudio

LISTENING_MARK = "(listening"


@dataclass
class Drive:
    returncode: int
    stdout: str
    stderr: str
    listening_at: list[float] = field(default_factory=list)  # time.monotonic() of each "(listening" line
    played: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each answer


def drive_reflection(audio: VirtualAudio, answers: list[Path], args: list[str], env: dict[str, str],
                     pause_before: float = 0.8, timeout: float = 240.0, echo: bool = False) -> Drive:
    """Run `companion reflect ARGS` and speak `answers[i]` into the microphone after the i-th question."""
    command = [sys.executable, "-m", "companion", "reflect", *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: list[str] = []
    listening_at: list[float] = []
    err: list[str] = []
    seen = threading.Condition()

    def read_stdout() -> None:
        for line in proc.stdout:
            with seen:
                lines.append(line)
                if LISTENING_MARK in line:
                    listening_at.append(time.monotonic())
                seen.notify_all()
            if echo:
                print(line, end="", flush=True)
        with seen:
            seen.notify_all()

    readers = [threading.Thread(target=read_stdout, daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in readers:
        t.start()
    played = []
    deadline = time.monotonic() + timeout
    try:
        for number, answer in enumerate(answers, 1):
            with seen:
                while len(listening_at) < number and proc.poll() is None and time.monotonic() < deadline:
                    seen.wait(0.2)
            if len(listening_at) < number:
                break
            time.sleep(pause_before)
            played.append(audio.play_into_mic(answer))
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for t in readers:
        t.join(timeout=5)
    return Drive(proc.returncode, "".join(lines), "".join(err), listening_at, played)
