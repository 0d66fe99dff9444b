"""Keeping native libraries (PortAudio, Kaldi) from printing their own diagnostics over ours."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_native_stderr():
    """Hide what C libraries write to stderr while a device or model is opened: when that fails,
    the person gets one clear line from Companion instead of the library's internal messages."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
