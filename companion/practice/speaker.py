"""The practice's speaker: its output clock kept on the device's own time, so cues never drift.

The output clock counts frames handed to the device. When this process is late and the device runs
dry (an underflow), or the sound server falls behind, the device plays silence that the count does
not include, and every later cue would sound late by that much for the rest of the practice.
PortAudio says when each block will be heard (outputBufferDacTime); `DeviceClock` compares that
with the count and says how to bring them back together: time lost is skipped on the output clock
(what was due in the gap loses that part), and a device running ahead gets a little silence.
Right after an underflow this happens at once; otherwise only when the difference is steady and
only in a quiet moment, so it is never heard.
"""

from __future__ import annotations

import collections

from companion.audio.playback import Speaker

JUMP = 0.02  # seconds: the device's time jumping ahead this much is time lost, even if not flagged
SETTLE = 0.3  # seconds after an underflow while the device refills: time lost is skipped at once
DRIFT = 0.003  # seconds: a steadier difference than this is corrected, in a quiet moment
STEADY = 0.5  # seconds over which a difference must hold (so jitter in the device's time is ignored)


class DeviceClock:
    """Pure: the output clock against the device's time, block by block. `update` returns
    (skip, hold): frames to move the output clock on, or frames of silence to insert first."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._origin: float | None = None  # device time of output-clock frame 0
        self._last_late = 0.0
        self._settle_until = -1
        self._recent: collections.deque[float] = collections.deque()
        self._recent_span = 0  # frames covered by self._recent

    def update(self, frame: int, frames: int, dac: float, underflow: bool, free_ahead: int) -> tuple[int, int]:
        """`frame`: the output clock at this block; `frames`: its length; `dac`: when the device says
        it will be heard; `free_ahead`: frames until the next sound (0 while one is playing)."""
        if dac <= 0:
            return 0, 0  # this device does not tell its time
        if self._origin is None:
            self._origin = dac - frame / self.rate
        late = dac - frame / self.rate - self._origin
        jumped, self._last_late = late - self._last_late >= JUMP, late
        if underflow or jumped:  # count from after the time lost, which is about to be skipped
            self._settle_until = frame + self._frames(late) + int(SETTLE * self.rate)
        if frame < self._settle_until:
            self._recent.clear()
            self._recent_span = 0
            return self._skipping(late), 0
        self._recent.append(late)
        self._recent_span += frames
        while self._recent_span - frames >= STEADY * self.rate:
            self._recent.popleft()
            self._recent_span -= frames
        if self._recent_span < STEADY * self.rate:
            return 0, 0
        low, high = min(self._recent), max(self._recent)
        if low >= DRIFT and free_ahead >= self._frames(low) + frames:
            self._recent.clear()
            self._recent_span = 0
            return self._skipping(low), 0
        if high <= -DRIFT and free_ahead > 0:
            self._recent.clear()
            self._recent_span = 0
            return 0, self._frames(-high)
        return 0, 0

    def _frames(self, seconds: float) -> int:
        return max(0, int(round(seconds * self.rate)))

    def _skipping(self, seconds: float) -> int:
        """Frames to skip for `seconds` lost; the next block will be that much less late."""
        skip = self._frames(seconds)
        self._last_late -= skip / self.rate
        return skip


class PracticeSpeaker(Speaker):
    """The speaker with its output clock kept on the device's time (`DeviceClock`)."""

    def __init__(self, device: str | int | None = None, latency: str | float = 0.1) -> None:
        super().__init__(device, latency)
        self.underflows = 0
        self.gaps: list[tuple[int, int]] = []  # (output-clock frame, frames skipped)
        self.holds: list[tuple[int, int]] = []  # (output-clock frame, frames of silence inserted)
        self.dac_time: tuple[int, float] = (0, 0.0)  # (frame, device time it is heard)
        self._device = DeviceClock(self.rate)
        self._hold = 0

    def _callback(self, outdata, frames, time_info, status) -> None:
        dac = float(time_info.outputBufferDacTime)
        if status.output_underflow:
            self.underflows += 1
        skip, hold = self._device.update(self._frames, frames, dac, bool(status.output_underflow), self._free_ahead())
        if skip:
            self._skip(skip)
        if hold:
            self._hold += hold
            self.holds.append((self._frames, hold))
        self.dac_time = (self._frames, dac)
        held = min(self._hold, frames)
        self._hold -= held
        outdata[:held] = 0
        if held < frames:
            super()._callback(outdata[held:], frames - held, time_info, status)

    def _free_ahead(self) -> int:
        """Frames from now until the next sound begins (0 while one is playing)."""
        now, ahead = self._frames, 10 * self.rate
        for clip in list(self._clips):
            if clip.cancelled or clip.done.is_set():
                continue
            if clip.started_at_frame is not None:
                return 0
            start = now if clip.start_frame is None else clip.start_frame
            ahead = min(ahead, max(0, start - now))
        return ahead

    def _skip(self, lost: int) -> None:
        """Move the output clock on by `lost` frames, as if they had been played."""
        now, later = self._frames, self._frames + lost
        for clip in list(self._clips):
            if clip.cancelled or clip.done.is_set():
                continue
            if clip.started_at_frame is not None:
                clip.position = min(len(clip.samples), clip.position + lost)
            elif clip.start_frame is not None and clip.start_frame < later:
                clip.position = min(len(clip.samples), later - clip.start_frame)
                clip.started_at_frame = clip.start_frame
            if clip.position >= len(clip.samples):
                clip.done.set()
        self._frames = later
        if self.gaps and now - sum(self.gaps[-1]) <= SETTLE * self.rate:  # the same underflow, still settling
            self.gaps[-1] = (self.gaps[-1][0], self.gaps[-1][1] + lost)
        else:
            self.gaps.append((now, lost))
