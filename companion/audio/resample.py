"""Streaming sample-rate conversion and channel mixing (pure, no devices)."""

from __future__ import annotations

import numpy as np
import soxr


class StreamResampler:
    """Converts consecutive blocks from one rate to another without clicks at the block edges."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self._stream = None if self.in_rate == self.out_rate else soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality="HQ")

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self._stream is None:
            return block
        return self._stream.resample_chunk(block, last=last)


def resample(samples: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resample a whole clip."""
    if in_rate == out_rate:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), in_rate, out_rate, quality="HQ").astype(np.float32)


def to_mono(block: np.ndarray) -> np.ndarray:
    return block if block.ndim == 1 else block.mean(axis=1)
