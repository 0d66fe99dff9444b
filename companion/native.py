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


def keep_native_stderr_apart() -> None:
    """For the whole run, send what C libraries write to file descriptor 2 (PortAudio's ALSA layer
    reports a vanished device from its own thread, many times) to /dev/null, while Python's
    `sys.stderr`, where Companion's own messages go, keeps the real stderr. Set COMPANION_DEBUG=1 to
    see the libraries' messages."""
    if os.environ.get("COMPANION_DEBUG"):
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return
    sys.stderr = open(real, "w", encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace",
                      buffering=1, closefd=True)
