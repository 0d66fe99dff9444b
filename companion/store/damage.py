"""A database that cannot be used is refused untouched, never repaired or replaced silently: the
person is told what is wrong and where the latest backup is."""

from __future__ import annotations

from pathlib import Path

from companion.errors import StorageError
from companion.store.backup import restore_hint

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, encrypted: bool = False) -> None:
    """Refuse, without touching it, a file that is not an SQLite database (or, with `encrypted`, one
    that is plain SQLite: an encrypted database has no readable header at all)."""
    if not path.exists():
        return
    if path.is_dir():
        raise StorageError(f"{path} is a folder, not a database", "give the path of a .db file")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise StorageError(f"cannot read the database {path}: {e.strerror or e}", "check its permissions") from None
    if encrypted and header == SQLITE_MAGIC:
        raise StorageError(f"{path} is not encrypted, but encryption is on for its folder",
                           "run `companion encrypt` to encrypt it; it was left untouched")
    if header and header != SQLITE_MAGIC and not encrypted:
        raise not_a_database(path)

def not_a_database(path: Path, encrypted: bool = False) -> StorageError:
    if encrypted:
        return StorageError(f"{path} cannot be decrypted with this folder's passphrase (it is damaged, "
                            "or not this folder's database)", restore_hint(path))
    return StorageError(
        f"{path} is not a Companion database (it is damaged, not SQLite, or encrypted and its folder "
        "has no encryption.json)",
        restore_hint(path) + "; or set COMPANION_HOME to another folder",
    )

def damaged_database(path: Path, detail: str) -> StorageError:
    """The error for a database SQLite finds damaged ("malformed"): never repaired or replaced silently."""
    return StorageError(f"the database {path} is damaged ({detail})", restore_hint(path))
