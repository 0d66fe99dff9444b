"""Native libraries: keeping them (PortAudio, Kaldi) from printing their own diagnostics over ours,
and having the C allocator give freed memory back (after a model loads, during a long answer)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
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


@functools.cache
def _glibc():
    """The C library when it is glibc (it has malloc_trim and mallopt), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
LARGE_ALLOCATION = 1 << 20


def map_large_allocations_apart() -> None:
    """Have every allocation of LARGE_ALLOCATION bytes or more mapped on its own, so it goes back to
    the system the moment it is freed. glibc otherwise raises this threshold as large blocks come and
    go (up to 32 MiB), and the tensors of loading and decoding a speech model (a few MB each) then
    stay resident after use: Whisper's load and each decode's working memory would add up to the peak.
    Called once, before models load. Does nothing where glibc is not used."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_ALLOCATION)


def give_back_free_memory() -> None:
    """Return memory freed by a decode to the system (glibc keeps it otherwise, in pieces spread over
    its per-thread arenas, and the resident size creeps up over a long answer). A few milliseconds;
    called between utterances, never from an audio callback. Does nothing where glibc is not used."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
