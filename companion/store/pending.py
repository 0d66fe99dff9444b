"""Nothing lost: an answer being recorded has a small marker beside its audio until it is stored.
The marker says what the answer belongs to, and is locked while its answer is being recorded; one
left behind unlocked is an answer that was cut off (companion.conversation.recovery stores it)."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from companion.paths import data_dir, make_private
from companion.store import crypto, sealed

MARKER_SUFFIX = ".pending.json"


@dataclass
class Pending:
    """What is needed to store an answer that was interrupted."""

    kind: str
    prompt: str | None
    started_at: str
    reflection_id: int | None = None
    session_id: int | None = None


def marker_for(audio: Path) -> Path:
    return audio.with_name(audio.name + MARKER_SUFFIX)


def mark_pending(audio: Path, pending: Pending) -> Path:
    """Write the marker before the first sample is recorded (synced, private; sealed like the
    recordings when the data folder is encrypted, since it holds the question)."""
    from companion.audio.files import sealing_keys

    marker = marker_for(audio)
    partial = marker.with_name(marker.name + ".partial")  # whole or not at all: written aside, then renamed
    data = json.dumps(asdict(pending)).encode("utf-8")
    keys = sealing_keys(marker)
    if keys is not None:
        sealed.write_sealed(partial, keys, sealed.KIND_FILE, data)  # synced
    else:
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    make_private(partial)
    _hold(marker, partial)
    os.replace(partial, marker)
    crypto.sync_folder(marker.parent)
    return marker


_HELD: dict[Path, int] = {}
"""Markers of answers this process is recording, each locked (flock) while it records: another
Companion window starting meanwhile leaves them alone, and a process that dies lets go of them."""


def _hold(marker: Path, partial: Path) -> None:
    """Lock the marker's file before it takes its name, so it is never seen unlocked."""
    fd = os.open(partial, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _HELD[marker] = fd


def _release(marker: Path) -> None:
    fd = _HELD.pop(marker, None)
    if fd is not None:
        os.close(fd)


def release(audio: Path) -> None:
    """Stop holding the marker of `audio` without storing the answer: from now on it waits, as if
    the recording had been cut off, for the next start to store it."""
    _release(marker_for(audio))


def in_progress(marker: Path) -> bool:
    """True while another process (or this one) is still recording the answer of this marker."""
    if marker in _HELD:
        return True
    try:
        fd = os.open(marker, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of a lock taken here
    return False


def read_pending(marker: Path) -> Pending:
    """The marker's contents, sealed or plain."""
    data = sealed.read_sealed(marker, crypto.unlock(data_dir()))[1] if sealed.is_sealed(marker) else marker.read_bytes()
    return Pending(**json.loads(data.decode("utf-8")))


def clear_pending(audio: Path) -> None:
    marker = marker_for(audio)
    marker.unlink(missing_ok=True)
    _release(marker)


def read_growing_wav(path: Path) -> np.ndarray:
    """The samples of a 16 kHz 16-bit mono recording written by GrowingWav, by what reached the disk
    rather than by its header (a plain WAV's header may lag the data by up to a second after a crash;
    an encrypted recording is read up to its last complete chunk)."""
    from companion.audio import files

    return files.read_growing(path)


def repair_header_to_size(path: Path) -> int:
    """Make a cut-short recording end cleanly (a plain WAV's header rewritten to what reached the
    disk; an encrypted one trimmed to its last complete second); returns the samples it holds."""
    from companion.audio import files

    return files.repair(path)


def pending_answers() -> list[Path]:
    """Markers of answers not yet stored (some may still be being recorded: `in_progress`)."""
    root = data_dir() / "audio"
    return sorted(root.rglob(f"*{MARKER_SUFFIX}")) if root.is_dir() else []


def waiting_answers() -> list[Path]:
    """Markers of answers that were cut off and wait to be stored (none being recorded now)."""
    return [m for m in pending_answers() if not in_progress(m)]
