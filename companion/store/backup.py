"""Consistent copies of the database with SQLite's online backup API, safe while Companion is in use."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from datetime import datetime
from pathlib import Path

from companion import paths
from companion.errors import StorageError
from companion.store import crypto

KEEP_AUTOMATIC = 7


def backups_dir() -> Path:
    return paths.data_dir() / "backups"


def read_only_uri(path: Path) -> str:
    """A URI opening the SQLite database at `path` for reading only.

    On a read-only filesystem SQLite cannot create the `-shm` file a WAL database needs; when no
    `-wal` or `-journal` file was left behind, the main file holds everything and nothing can change
    it, so it is opened `immutable`. Otherwise `mode=ro` (which reads a `-wal` file left by a crash,
    and sees other processes' writes in a writable folder)."""
    quoted = urllib.parse.quote(str(path))
    left_behind = any(p.is_file() and p.stat().st_size > 0 for p in (path.with_name(path.name + "-wal"),
                                                                    path.with_name(path.name + "-journal")))
    if _on_read_only_filesystem(path.parent) and not left_behind:
        return f"file:{quoted}?immutable=1"
    return f"file:{quoted}?mode=ro"


def _on_read_only_filesystem(folder: Path) -> bool:
    """True when nobody can write in `folder` (not merely this user), so the file cannot change."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def backup_database(source: Path, destination: Path, wait: float = 10.0) -> Path:
    """Copy `source` to `destination` page by page inside one read transaction (a consistent
    snapshot even while another process writes); the copy is private (0600) and checked.

    An encrypted database (encryption on for its folder) gives a copy encrypted with the same
    passphrase: SQLCipher keeps the key's salt in the file, so the copy opens with the passphrase alone.
    """
    if not source.is_file():
        raise StorageError(f"there is no database at {source} yet", "nothing to back up")
    keys = crypto.unlock(source.parent)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))

    def connect(path: str | Path, **options):
        return crypto.connect(path, keys, **options) if keys else sqlite3.connect(path, **options)

    try:
        with connect(read_only_uri(source), uri=True, timeout=wait) as src, connect(partial) as dst:
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # waits `wait` for a lock, then says so
            src.backup(dst)  # (the backup API itself would retry a locked database for ever)
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        src.close()
        dst.close()
        if ok != "ok":
            raise StorageError(f"the backup of {source} did not pass its check ({ok})", "run `companion doctor`")
        os.replace(partial, destination)
    except sqlite3.DatabaseError as e:
        partial.unlink(missing_ok=True)
        if "locked" in str(e) or "busy" in str(e):
            raise StorageError(f"cannot back up {source} now: another Companion window holds it (encrypting it, say)",
                               "try again when that is done") from None
        raise StorageError(f"cannot back up {source}: {e}", "the database may be damaged; keep the file and ask for help") from None
    paths.make_private(destination)
    return destination


def backup_folder(data: Path, destination: Path) -> tuple[Path, int]:
    """A copy of the whole data folder in `destination` (a new folder): the database (a consistent
    copy, as `backup_database` makes), every recording as it is (encrypted ones stay encrypted),
    and the folder's encryption settings, body states and practices. Returns the folder and the
    number of recordings copied."""
    import shutil

    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise StorageError(f"{destination} already exists and is not an empty folder",
                           "give a new folder's path; nothing was copied")
    try:
        paths.ensure_private_dir(destination)
        backup_database(data / "companion.db", destination / "companion.db")
        copied = 0
        audio = data / "audio"
        for source in sorted(audio.rglob("*")) if audio.is_dir() else []:
            if source.is_file() and not source.name.endswith((".partial", ".tmp.wav")):
                target = destination / source.relative_to(data)
                paths.ensure_private_dir(target.parent)
                shutil.copyfile(source, target)
                paths.make_private(target)
                copied += not source.name.endswith(".json")  # a marker beside an answer is not one
        for name in (crypto.SETTINGS_FILE, "body_states.toml", "config.toml"):
            if (data / name).is_file():
                shutil.copyfile(data / name, destination / name)
                paths.make_private(destination / name)
        if (data / "practices").is_dir():
            shutil.copytree(data / "practices", destination / "practices")
    except OSError as e:
        raise StorageError(f"cannot copy the data folder to {destination}: {e.strerror or e}",
                           "check free space and permissions there; nothing stored was changed") from None
    return destination, copied


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
    made = backup_database(source, new_backup_path("auto"), wait=1.0)  # never holds up a start for long
    for old in automatic[: max(0, len(automatic) + 1 - KEEP_AUTOMATIC)]:
        old.unlink(missing_ok=True)
    return made


def restore_hint(database: Path) -> str:
    """What to tell a person whose database cannot be used: it is untouched, and where a backup is."""
    latest = latest_backup()
    if latest is None:
        return "it was left untouched; there is no backup yet, so keep the file and ask for help"
    return (f"it was left untouched; the latest backup is {latest} (to go back to it, move the damaged file "
            f"aside and copy the backup to {database})")


def daily_backup_quietly(source: Path) -> Path | None:
    """The automatic daily backup, never in the way: a full disk or a read-only folder skips it."""
    try:
        return daily_backup(source)
    except (StorageError, OSError, sqlite3.Error):
        return None
