"""The practice's speaker: its output clock kept through underflows, so later cues never drift.

The output clock counts frames handed to the device. When this process (or the sound server) is
late and the device runs dry (an underflow), the device plays silence that the count does not
include, and every later cue would sound late by that much for the rest of the practice.
PortAudio says when each block will be heard (outputBufferDacTime). `DeviceClock` watches that
time jump ahead, against where it was just before, and the time lost is skipped on the output
clock: what was due in the gap loses that part, and everything after stays on schedule.

Only jumps are followed. Between underflows the output clock is the device's own sample clock;
the time PortAudio reports drifts slowly against it (by ~100 ppm on the test machine), so
following that time would itself move the cues.
"""

from __future__ import annotations

import collections
import statistics

from companion.audio.playback import Speaker

JUMP = 0.02  # seconds: the device's time jumping ahead this much is time lost, even if not flagged
SETTLE = 0.3  # seconds after an underflow while the device refills: time lost is still counted
BEFORE = 0.2  # seconds of blocks before an underflow that say where the device's time was


class DeviceClock:
    """Pure: the output clock against the device's time, block by block. `update` returns the
    frames to move the output clock on (the time the device lost), usually 0."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._recent: collections.deque[float] = collections.deque()  # device time of frame 0, per block
        self._anchor: float | None = None  # the same, just before the latest underflow
        self._jitter = 0.0  # how much it wandered then: smaller differences are not time lost
        self._settle_until = -1

    def update(self, frame: int, frames: int, dac: float, underflow: bool) -> int:
        """`frame`: the output clock at this block; `frames`: its length; `dac`: when the device says
        the block will be heard (0 if it does not say); `underflow`: the device ran dry."""
        if dac <= 0:
            return 0
        offset = dac - frame / self.rate
        if frame >= self._settle_until:
            before = statistics.median(self._recent) if self._recent else offset
            if not (underflow or offset - before >= JUMP):
                self._recent.append(offset)
                while len(self._recent) * frames > BEFORE * self.rate:
                    self._recent.popleft()
                return 0
            spread = max(self._recent, default=offset) - min(self._recent, default=offset)
            self._anchor, self._jitter = before, spread / 2
            self._settle_until = frame + self._frames(offset - before) + int(SETTLE * self.rate)
        assert self._anchor is not None
        late = offset - self._anchor - self._jitter  # what is surely lost (converges over the blocks)
        skip = self._frames(late) if late > 1 / self.rate else 0
        if underflow:  # another while settling: wait for this one to settle too
            self._settle_until = max(self._settle_until, frame + skip + int(SETTLE * self.rate))
        if frame + skip >= self._settle_until:  # settled: from here on, where the device's time is now
            self._recent = collections.deque([offset - skip / self.rate])
        return skip

    def _frames(self, seconds: float) -> int:
        return max(0, int(round(seconds * self.rate)))


class PracticeSpeaker(Speaker):
    """The speaker, with time lost in underflows skipped on its output clock (`DeviceClock`)."""

    def __init__(self, device: str | int | None = None, latency: str | float = 0.1) -> None:
        super().__init__(device, latency)
        self.underflows = 0
        self.gaps: list[tuple[int, int]] = []  # (output-clock frame, frames skipped) for each underflow
        self.dac_time: tuple[int, float] = (0, 0.0)  # (frame, device time it is heard)
        self._device = DeviceClock(self.rate)

    def _callback(self, outdata, frames, time_info, status) -> None:
        dac = float(time_info.outputBufferDacTime)
        if status.output_underflow:
            self.underflows += 1
        skip = self._device.update(self._frames, frames, dac, bool(status.output_underflow))
        if skip:
            self._skip(skip)
        self.dac_time = (self._frames, dac)
        super()._callback(outdata, frames, time_info, status)

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
