"""Driving a `companion` command through the private PulseAudio server: a person's words spoken into
the virtual microphone, each when the command shows a given marker (for example "(listening").
Used by the demo main job and the tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from companion.harness.virtual_audio import VirtualAudio

LISTENING_MARK = "(listening"


def interruptible() -> None:
    """In the child before it runs: Ctrl-C (SIGINT) as a person's terminal sends it, even when the
    driver itself runs in the background, where the shell has it ignored and the child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Drive:
    returncode: int
    stdout: str
    stderr: str
    marks: dict[str, list[float]] = field(default_factory=dict)  # marker -> time.monotonic() of each sighting
    played: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each clip spoken

    @property
    def listening_at(self) -> list[float]:
        return self.marks.get(LISTENING_MARK, [])


def drive_command(audio: VirtualAudio, args: list[str], steps: list[tuple], env: dict[str, str],
                  pause_before: float = 0.8, timeout: float = 240.0, echo: bool = False,
                  on_start: Callable[[subprocess.Popen], None] | None = None,
                  on_mark: Callable[[str, float], None] | None = None, watch: tuple[str, ...] = ()) -> Drive:
    """Run `companion ARGS`; for each (marker, wav[, seconds]) step, wait for the marker's next
    appearance on stdout, then (after `seconds`, default `pause_before`) speak the wav into the microphone.
    `on_start` is called with the process as soon as it runs (to watch it, or to stop it), `on_mark`
    with each marker and the time it was seen; `watch`: more markers whose sightings are recorded."""
    proc = subprocess.Popen([sys.executable, "-m", "companion", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1, preexec_fn=interruptible)
    if on_start is not None:
        on_start(proc)
    lines: list[str] = []
    err: list[str] = []
    marks: dict[str, list[float]] = {LISTENING_MARK: [], **{step[0]: [] for step in steps}, **{w: [] for w in watch}}
    seen = threading.Condition()

    def read_stdout() -> None:
        for line in proc.stdout:
            with seen:
                lines.append(line)
                for marker in marks:
                    if marker in line:
                        marks[marker].append(time.monotonic())
                        if on_mark is not None:
                            on_mark(marker, marks[marker][-1])
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
    wanted: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    try:
        for marker, wav, *delay in steps:
            wanted[marker] = wanted.get(marker, 0) + 1
            with seen:
                while len(marks[marker]) < wanted[marker] and proc.poll() is None and time.monotonic() < deadline:
                    seen.wait(0.1)
            if len(marks[marker]) < wanted[marker]:
                break
            time.sleep(delay[0] if delay else pause_before)
            played.append(audio.play_into_mic(wav))
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for t in readers:
        t.join(timeout=5)
    return Drive(proc.returncode, "".join(lines), "".join(err), marks, played)


def drive_reflection(audio: VirtualAudio, answers: list[Path], args: list[str], env: dict[str, str],
                     pause_before: float = 0.8, timeout: float = 240.0, echo: bool = False) -> Drive:
    """Run `companion reflect ARGS` and speak `answers[i]` into the microphone after the i-th question."""
    steps = [(LISTENING_MARK, answer) for answer in answers]
    return drive_command(audio, ["reflect", *args], steps, env, pause_before, timeout, echo)
