"""A guided practice on the audio output clock, controlled by voice.

Every cue is queued on the speaker at an exact output-clock frame, one breath ahead, so onsets do
not depend on when this thread wakes and never drift: breath n starts exactly at the sum of the
breaths before it. The output clock itself is kept on the device's time, through underflows too
(`speaker.PracticeSpeaker`). Spoken lines are rendered (and cached) before the practice begins.
Commands arrive from a `CommandListener` thread through a queue; the main thread acts on them.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from companion.audio.playback import Clip, Speaker
from companion.conversation.commands import CommandHeard
from companion.events import Transcript
from companion.practice import timing, tones
from companion.practice.model import Breathe, Pause, Practice, Say
from companion.practice.records import HeardCommand
from companion.voice.base import Voice

PRACTICE_COMMANDS: dict[str, list[str]] = {
    "pause": ["pause"],
    "continue": ["continue", "resume"],
    "slower": ["slower"],
    "faster": ["faster"],
    "repeat": ["repeat"],
    "skip": ["skip"],
    "stop": ["stop", "i'm done", "i am done"],
}

LINES = {
    "pause": "Pausing here. Say continue when you're ready.",
    "continue": "Let's carry on.",
    "slower": "A little slower.",
    "faster": "A little quicker.",
    "slowest": "This is as slow as we go. Stay with it as it is.",
    "fastest": "This is as quick as we go. Stay with it as it is.",
    "closing": "Thank you for taking this time. Come back whenever you like.",
    "stopped": "Okay. We'll end here. Thank you for taking this time.",
}
LEAD = 0.4  # seconds between queuing the first sound and playing it
SETTLE = 1.0  # seconds an output stream runs before its first cue (its latency still grows at the start)
LOOKAHEAD = 0.35  # the next breath is queued this long before it begins
ACK_DELAY = 0.5  # a beat of quiet between falling silent and the spoken acknowledgement
ACK_SOON = 0.3  # "slower"/"faster": the acknowledgement begins at least this long after the command,
ACK_MARGIN = 0.25  # in a quiet moment with this much quiet either side of it,
ACK_WITHIN = 1.5  # if one begins within this many seconds; else the breath begins again after it
POLL = 0.01
PAUSE_LIMIT = 20 * 60.0  # seconds: a practice left paused this long ends gently


@dataclass
class RunResult:
    finished: bool
    duration: float  # seconds
    commands: list[HeardCommand] = field(default_factory=list)


class TimingLog:
    """JSON lines of what was queued when, on the output clock (for tests and the benchmark)."""

    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = path.open("w", encoding="utf-8", buffering=1) if path else None
        self._lock = threading.Lock()  # the listener thread writes too

    def write(self, **record) -> None:
        if self._file:
            with self._lock:
                self._file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._file:
            with self._lock:
                self._file.close()
                self._file = None


class _Restart(Exception):
    """Begin the current line or breath again (after pause/continue or repeat)."""


class _Skip(Exception):
    """Move on to the next step."""


class _Stop(Exception):
    """End the practice early."""


class GuidedRun:
    """Runs one practice. `commands` is filled by a listener (or stays empty without one)."""

    def __init__(self, practice: Practice, speaker: Speaker, voice: Voice, mode: str = "both",
                 say: Callable[[str], None] = lambda text: None, timing_log: Path | None = None,
                 status: Callable[[str], None] = lambda text: None) -> None:
        if mode not in timing.MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.practice, self.speaker, self.voice, self.mode = practice, speaker, voice, mode
        self.show = say
        self.status = status  # the breath under way, as one calm line ("Breathing in · breath 2 of 6")
        self._breath: tuple[int, Breathe, int] | None = None  # (start frame, step, cycle) of the breath queued
        self._shown_phase: tuple[int, int] | None = None
        self.commands: queue.Queue[CommandHeard] = queue.Queue()
        self.heard: list[HeardCommand] = []
        self.log = TimingLog(timing_log)
        self.rate = speaker.rate
        self._sounds: dict[tuple[str, str], np.ndarray] = {}
        self._last_line: str | None = None
        self._cursor = 0  # output-clock frame where the next sound goes
        self._horizon = 0  # the earliest frame where a sound not yet queued may begin
        self._started = 0.0
        self._clips: list[tuple[Clip, int, str]] = []
        self._index = 0  # the step being run
        self._upcoming: tuple[int, Breathe] | None = None  # a breathing step as its next breath will be
        self._pending_acks: list[str] = []  # acknowledgements with no quiet moment: said at the next breath

    # ---- sounds ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Render every line and tone before the practice begins, so nothing is rendered on the beat."""
        texts = [s.text for s in self.practice.steps if isinstance(s, Say)] + list(LINES.values())
        for step in self.practice.breathing:
            texts += [p.say or timing.DEFAULT_WORDS[p.kind] for p in step.phases]
        for text in texts:
            self._voice(text)
        self.voice.release()  # every line is at hand: the voice's model need not stay in memory
        for kind in ("inhale", "exhale"):
            self._sounds[("tone", kind)] = tones.tone(kind, self.rate, volume=self.voice.settings.volume)

    def _voice(self, text: str) -> np.ndarray:
        key = ("voice", text)
        if key not in self._sounds:
            samples, rate = self.voice.render(text)
            from companion.audio.resample import resample

            self._sounds[key] = resample(samples, rate, self.rate).astype(np.float32)
        return self._sounds[key]

    def _queue(self, kind: str, sound: str, frame: int | None) -> tuple[Clip, int]:
        samples = self._sounds[("tone", sound)] if kind == "tone" else self._voice(sound)
        clip = self.speaker.play(samples, self.rate, at_frame=frame)  # already at the device rate
        planned = frame if frame is not None else self.speaker.clock()
        self._clips.append((clip, planned, sound))
        self.log.write(t="cue", kind=kind, sound=sound, frame=planned, rate=self.rate, samples=len(samples),
                       queued_clock=self.speaker.clock(), mono=time.monotonic())
        return clip, len(samples)

    def _frames(self, seconds: float) -> int:
        return int(round(seconds * self.rate))

    # ---- waiting on the output clock, and commands -----------------------------------------------

    def _wait_until(self, frame: int) -> None:
        """Wait until the output clock reaches `frame`, acting on any command heard meanwhile."""
        while self.speaker.clock() < frame:
            self._show_phase()
            try:
                heard = self.commands.get(timeout=POLL)
            except queue.Empty:
                continue
            self._act(heard)

    def _show_phase(self) -> None:
        """Update the status line when a phase of the breath under way begins to be heard."""
        if self._breath is None:
            return
        start, step, cycle = self._breath
        heard = self.speaker.clock() - self._frames(self.speaker.latency) - start
        if heard < 0:
            return
        offsets = timing.phase_offsets(step)
        index = max(i for i, offset in enumerate(offsets) if self._frames(offset) <= heard)
        if self._shown_phase != (cycle, index):
            self._shown_phase = (cycle, index)
            self.status(timing.phase_status(step.phases[index], cycle, step.cycles))

    def note_decoded(self, transcript: Transcript, command: str | None) -> None:
        """For the timing log: an utterance the listener decoded (on the listener thread)."""
        self.log.write(t="decoded", text=transcript.text, conf=[round(w.conf, 2) for w in transcript.words],
                       command=command, mono=time.monotonic())

    def _note(self, heard: CommandHeard) -> None:
        self.heard.append(HeardCommand(heard.command, time.monotonic() - self._started, heard.text))
        self.show(f"  (heard: {heard.text})")

    def _silence(self, heard: CommandHeard | None) -> None:
        self.speaker.silence()
        self.log.write(t="silenced", command=heard.command if heard else None, clock=self.speaker.clock(),
                       mono=time.monotonic(), heard_at=heard.heard_at if heard else None)

    def _speak_now(self, key: str, delay: float = ACK_DELAY, show: bool = True) -> None:
        """A short line, after a beat of quiet; returns once it has been heard."""
        text = LINES[key]
        if show:
            self.show(text)
        clip, _ = self._queue("voice", text, self.speaker.clock() + self._frames(delay))
        self.speaker.wait(clip, timeout=30)

    def _act(self, heard: CommandHeard) -> None:
        command = heard.command
        if command == "continue":
            return  # nothing is paused: already going
        self._note(heard)
        if command == "stop":
            self._silence(heard)
            raise _Stop
        if command == "pause":
            self._silence(heard)
            self._speak_now("pause")
            self._wait_for_continue()
            raise _Restart
        if command == "skip":
            self._silence(heard)
            raise _Skip
        if command == "repeat":
            self._silence(heard)
            if self._last_line:
                self.show(self._last_line)
                clip, _ = self._queue("voice", self._last_line, self.speaker.clock() + self._frames(ACK_DELAY))
                self.speaker.wait(clip, timeout=60)
            raise _Restart
        if command in ("slower", "faster"):
            self._change_pace(heard)

    def _change_pace(self, heard: CommandHeard) -> None:
        """Slower/faster from the next breath on, acknowledged at once (`_acknowledge`)."""
        command = heard.command
        target = self._upcoming or next(((i, s) for i, s in enumerate(self.practice.steps)
                                         if i >= self._index and isinstance(s, Breathe)), None)
        if target is None:
            return  # no breathing left to change
        index, step = target
        changed = timing.slower(step) if command == "slower" else timing.faster(step)
        if changed is None:
            line = "slowest" if command == "slower" else "fastest"
        else:
            step, line = changed, command
        self._upcoming = (index, step)
        self.show(f"{LINES[line]} ({timing.bpm(step):.1f} breaths a minute)")
        self._acknowledge(line, heard)

    def _acknowledge(self, key: str, heard: CommandHeard) -> None:
        """A short line, soon: in a quiet moment that begins within ACK_WITHIN, leaving every cue as
        it is. Without one, during a breath: silence, the line, and the breath begins again (at the
        new pace, like after "continue"); elsewhere it is said at the start of the next breath."""
        text = LINES[key]
        length = len(self._voice(text))
        busy = [(planned, planned + len(clip.samples)) for clip, planned, _ in self._clips
                if not (clip.done.is_set() or clip.cancelled)]
        soon = self.speaker.clock() + self._frames(ACK_SOON)
        at = timing.first_gap(busy, soon, length, self._horizon, self._frames(ACK_MARGIN))
        if at is not None and at - soon <= self._frames(ACK_WITHIN):
            self._queue("voice", text, at)
        elif self._upcoming is not None and self._upcoming[0] == self._index:
            self._silence(heard)
            self._speak_now(key, delay=ACK_SOON, show=False)
            raise _Restart
        else:
            self._pending_acks.append(text)

    def _wait_for_continue(self) -> None:
        until = time.monotonic() + PAUSE_LIMIT
        while True:
            if time.monotonic() > until:
                raise _Stop
            try:
                heard = self.commands.get(timeout=0.2)
            except queue.Empty:
                continue
            if heard.command == "continue":
                self._note(heard)
                self._speak_now("continue", delay=0.2)
                return
            if heard.command == "stop":
                self._note(heard)
                raise _Stop

    # ---- steps ----------------------------------------------------------------------------------

    def _restart_point(self) -> None:
        self._cursor = max(self.speaker.clock() + self._frames(LEAD), self._frames(SETTLE))

    def _wait_for_next(self) -> None:
        """Wait until shortly before the cursor, where the next step's first sound goes."""
        self._horizon = self._cursor
        self._wait_until(self._cursor - self._frames(LOOKAHEAD))

    def _run_say(self, step: Say) -> None:
        self.show(step.text)
        self._last_line = step.text
        _, length = self._queue("voice", step.text, self._cursor)
        self._cursor += length + self._frames(timing.GAP_AFTER_SAY)
        self._wait_for_next()

    def _run_breathe(self, index: int, step: Breathe) -> None:
        if self._upcoming is None or self._upcoming[0] != index:
            self._upcoming = (index, step)
        cycle = 0
        while cycle < step.cycles:
            step = self._upcoming[1]  # with any change of pace asked for during the last breath
            for text in self._pending_acks:
                self._queue("voice", text, self._cursor)
                self._cursor += len(self._voice(text)) + self._frames(0.3)
            self._pending_acks.clear()
            self.log.write(t="breath", cycle=cycle, frame=self._cursor, seconds=step.cycle_seconds,
                           clock=self.speaker.clock(), mono=time.monotonic(), dac=getattr(self.speaker, "dac_time", None))
            self._breath = (self._cursor, step, cycle)
            for cue in timing.breath_cues(step, cycle, self.mode, self.practice.voice_cycles):
                if cue.kind == "voice":
                    self._last_line = cue.sound
                self._queue(cue.kind, cue.sound, self._cursor + self._frames(cue.offset))
            try:
                self._horizon = self._cursor + self._frames(step.cycle_seconds)
                self._wait_until(self._horizon - self._frames(LOOKAHEAD))
            except _Restart:
                self._restart_point()
                continue
            self._cursor += self._frames(step.cycle_seconds)
            cycle += 1
        self._upcoming = None
        self._breath = None
        self._shown_phase = None
        self.status("")

    def run(self) -> RunResult:
        """Guide the practice to its end, or until "stop" or Ctrl-C; the closing line is always spoken."""
        self._started = time.monotonic()
        self._restart_point()
        finished = False
        try:
            try:
                index = 0
                while index < len(self.practice.steps):
                    self._index, step = index, self.practice.steps[index]
                    try:
                        if isinstance(step, Say):
                            self._run_say(step)
                        elif isinstance(step, Pause):
                            self._cursor += self._frames(step.seconds)
                            self._wait_for_next()
                        else:
                            self._run_breathe(index, step)
                    except _Restart:
                        self._restart_point()
                        continue
                    except _Skip:
                        self._restart_point()
                        if self._upcoming is not None and self._upcoming[0] == index:
                            self._upcoming = None
                    index += 1
                self._horizon = self._cursor
                try:
                    self._wait_until(self._cursor)
                except (_Restart, _Skip):
                    pass  # nothing left to begin again or to skip
                finished = True
                self._speak_now("closing", delay=0.3)
            except _Stop:
                self._speak_now("stopped")
            except KeyboardInterrupt:
                self._silence(None)
                self.heard.append(HeardCommand("stop", time.monotonic() - self._started, "Ctrl-C"))
                self._speak_now("stopped", delay=0.2)
        except KeyboardInterrupt:  # a second Ctrl-C during the closing line: end at once
            self.speaker.silence()
        finally:
            self._log_played()
            self.log.write(t="end", underflows=getattr(self.speaker, "underflows", None), clock=self.speaker.clock(),
                           gaps=getattr(self.speaker, "gaps", []), output_latency=self.speaker.latency)
            self.log.close()
        return RunResult(finished, time.monotonic() - self._started, self.heard)

    def _log_played(self) -> None:
        for clip, planned, sound in self._clips:
            if clip.started_at_frame is not None and not (clip.cancelled and clip.position == 0):
                self.log.write(t="played", sound=sound, planned=planned, started=clip.started_at_frame)
