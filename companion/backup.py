"""Consistent copies of the database with SQLite's online backup API, safe while Companion is in use."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from companion import paths
from companion.errors import StorageError

KEEP_AUTOMATIC = 7


def backups_dir() -> Path:
    return paths.data_dir() / "backups"


def backup_database(source: Path, destination: Path) -> Path:
    """Copy `source` to `destination` page by page inside one read transaction (a consistent
    snapshot even while another process writes); the copy is private (0600) and checked."""
    if not source.is_file():
        raise StorageError(f"there is no database at {source} yet", "nothing to back up")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10) as src, sqlite3.connect(partial) as dst:
            src.backup(dst)
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        src.close()
        dst.close()
        if ok != "ok":
            raise StorageError(f"the backup of {source} did not pass its check ({ok})", "run `companion doctor`")
        os.replace(partial, destination)
    except sqlite3.DatabaseError as e:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot back up {source}: {e}", "the database may be damaged; keep the file and ask for help") from None
    paths.make_private(destination)
    return destination


def new_backup_path(kind: str = "manual") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return paths.ensure_private_dir(backups_dir()) / f"companion-{stamp}-{kind}.db"


def latest_backup() -> Path | None:
    found = sorted(backups_dir().glob("companion-*.db")) if backups_dir().is_dir() else []
    return found[-1] if found else None


def daily_backup(source: Path) -> Path | None:
    """At most one automatic backup a day, keeping the last few; returns the new one, if made."""
    today = datetime.now().strftime("%Y%m%d")
    automatic = sorted(backups_dir().glob("companion-*-auto.db")) if backups_dir().is_dir() else []
    if any(p.name.startswith(f"companion-{today}") for p in automatic) or not source.is_file():
        return None
    made = backup_database(source, new_backup_path("auto"))
    for old in automatic[: max(0, len(automatic) + 1 - KEEP_AUTOMATIC)]:
        old.unlink(missing_ok=True)
    return made
