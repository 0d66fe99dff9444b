"""One listener at a time: a lock held while `companion listen` runs (released by the system
however the process ends)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from companion.errors import CompanionError
from companion.paths import data_dir, ensure_private_dir


@contextmanager
def single_listener() -> Iterator[None]:
    """Hold the listener's lock; a CompanionError if another listener holds it."""
    path = ensure_private_dir(data_dir()) / "listen.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompanionError("Companion is already listening (another `companion listen` is running)",
                                 "use that one, or stop it first") from None
        yield
    finally:
        os.close(fd)
