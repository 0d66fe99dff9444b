"""`companion encrypt`: turn encryption at rest on for a data folder that already holds data, losing nothing.

1. Refuse while another Companion process has the database open; then hold it locked.
2. Beside every plain file (the database, each backup, each recording) write an encrypted copy
   (`NAME.encrypting` while it is written, `NAME.encrypted` once it is checked against the original).
3. Write the list of copies (`encrypting.json`), then `encryption.json`: from here on the folder is
   encrypted.
4. Put each copy in place of its original (a rename; the database last), overwrite the original's
   bytes with zeros, and remove the list.

Interrupted before 3, the folder is as it was (the next run removes the copies and begins again).
Interrupted after 3, the next start of Companion (or the next run) finishes step 4.
Run again on an encrypted folder (same passphrase), it encrypts whatever is still plain in it.

`change_passphrase` goes the same way: copies under the new passphrase beside every file, the list
(which names the new settings), then the new `encryption.json` (from here on only the new passphrase
opens the folder), then the copies put in place. Interrupted before the new settings are written,
the old passphrase still opens everything and the copies are removed on the next start.

What cannot be encrypted in place (the page `companion page` wrote, the voice's cached phrases) is
overwritten and removed. The module is longer than most: these steps, their recovery and the
passphrase change share one journal and one set of checks, and read best together.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from companion import paths
from companion.errors import PassphraseError, StorageError
from companion.store import crypto, sealed

JOURNAL = "encrypting.json"
CHANGE_LOCK = "encrypting.lock"  # held by a passphrase change from its start to its end
PARTIAL = ".encrypting"
READY = ".encrypted"
SQLITE_MAGIC = b"SQLite format 3\x00"
_SKIP_SUFFIXES = (PARTIAL, READY, ".rewrite", ".partial", ".write-test")
_MARKER = ".pending.json"  # beside a recording cut off by a crash: sealed too (it holds the question)


@dataclass
class Encrypted:
    """What one run encrypted."""

    folder: Path
    database: bool
    backups: int
    recordings: int
    turned_on: bool  # False: the folder was encrypted already


def encrypt_folder(folder: Path, passphrase: str | None = None, log2n: int = crypto.SCRYPT_LOG2N) -> Encrypted:
    """Encrypt everything of Companion's in `folder` that is not encrypted yet (see the module)."""
    paths.ensure_private_dir(folder)
    turned_on = not crypto.is_enabled(folder)
    if turned_on:
        _discard_unfinished(folder)
        if passphrase is None:
            passphrase = crypto.ask_passphrase("Choose a passphrase", confirm=True)
        keys = crypto.new_keys(passphrase, log2n)
    else:
        keys = crypto.unlock(folder)
        finish_interrupted(folder)
        _discard_unfinished(folder)
    database = folder / "companion.db"
    lock = _lock_plain_database(database)
    try:
        originals: list[Path] = []
        if lock is not None:
            _encrypt_database(lock, database, keys)
            originals.append(database)
        backups = [b for b in sorted((folder / "backups").glob("*.db")) if _is_plain_sqlite(b)]
        for backup in backups:
            conn = crypto.sqlcipher().connect(str(backup), isolation_level=None)
            try:
                _encrypt_database(conn, backup, keys)
            finally:
                conn.close()
        originals += backups
        recordings = _plain_recordings(folder)
        for recording in recordings:
            _seal_copy(recording, keys)
        originals += recordings
        for copies_in in {p.parent for p in originals}:
            crypto.sync_folder(copies_in)  # every copy on disk before the list that names it
        if originals:
            crypto.write_atomically(folder / JOURNAL, json.dumps(
                {"files": [p.relative_to(folder).as_posix() for p in originals]}, indent=1).encode("utf-8"))
        if turned_on:
            crypto.write_settings(folder, keys)
        finish_interrupted(folder)  # the database is put in place while still locked
        _remove_plain_copies(folder)
    finally:
        if lock is not None:
            lock.close()
    return Encrypted(folder, lock is not None, len(backups), _count_recordings(recordings), turned_on)


def finish_interrupted(folder: Path, holding_change_lock: bool = False) -> None:
    """Put in place the checked copies of an encryption (or a passphrase change) that reached step 3;
    drop those of a passphrase change that did not. Cheap when there are none."""
    journal = folder / JOURNAL
    if not journal.is_file() or not crypto.is_enabled(folder):
        return  # nothing to do, or an unfinished first run: the next `companion encrypt` discards it
    with open(journal, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # one process at a time
        if os.fstat(f.fileno()).st_nlink == 0:
            return  # another process finished it meanwhile
        try:
            listed = json.loads(f.read().decode("utf-8"))
            names, check = listed["files"], listed.get("check")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StorageError(f"{journal} is damaged", "the encrypted copies beside your files are kept; ask for help") from None
        if check is not None and check != crypto.settings_check(folder):
            # A passphrase change that has not switched yet: running now (its copies are not ours to
            # touch), or stopped before its switch (the old files stand; its copies go).
            held = None if holding_change_lock else _change_lock(folder)
            if holding_change_lock or held is not None:
                try:
                    journal.unlink()
                    _discard_unfinished(folder)
                finally:
                    if held is not None:
                        os.close(held)
            return
        originals = [folder / name for name in names]
        database = folder / "companion.db"
        for original in sorted(originals, key=lambda p: p == database):  # the database last
            _put_in_place(original)
        for folder_of in {p.parent for p in originals}:
            crypto.sync_folder(folder_of)
        journal.unlink()
        crypto.sync_folder(folder)


@dataclass
class Rekeyed:
    """What a passphrase change re-encrypted."""

    folder: Path
    database: bool
    backups: int
    recordings: int
    skipped: list[Path]  # files the current passphrase does not open (left as they were)


def change_passphrase(folder: Path, new_passphrase: str | None = None, log2n: int = crypto.SCRYPT_LOG2N) -> Rekeyed:
    """Re-encrypt the database, backups and recordings in `folder` under a new passphrase (see the module)."""
    if not crypto.is_enabled(folder):
        raise StorageError(f"the data in {folder} is not encrypted, so it has no passphrase to change",
                           "run `companion encrypt` to turn encryption on")
    paths.ensure_private_dir(folder)
    old = crypto.unlock(folder)  # the current passphrase first: a wrong one changes nothing
    assert old is not None
    new = crypto.new_keys(new_passphrase if new_passphrase is not None else crypto.ask_new_passphrase(), log2n)
    held = _change_lock(folder)
    if held is None:
        raise StorageError("the passphrase is being changed in another window", "let it finish; nothing was changed")
    lock = None
    try:
        database = folder / "companion.db"
        lock = _lock_encrypted_database(database, old)
        finish_interrupted(folder, holding_change_lock=True)  # an earlier run's copies: put in place, or dropped
        _discard_unfinished(folder)
        originals: list[Path] = []
        skipped: list[Path] = []
        if lock is not None:
            _encrypt_database(lock, database, new)
            originals.append(database)
        backups = []
        for backup in sorted((folder / "backups").glob("*.db")):
            conn = crypto.connect(backup, old)
            conn.isolation_level = None
            try:
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except sqlite3.DatabaseError:
                    skipped.append(backup)  # not this passphrase's (or damaged): left as it is
                    continue
                _encrypt_database(conn, backup, new)  # any other failure ends the change, nothing changed
                backups.append(backup)
            finally:
                conn.close()
        originals += backups
        recordings = []
        for recording in _sealed_recordings(folder):
            try:
                header, data, _ = sealed.read_sealed(recording, old)  # a crash-cut one: its complete pieces
            except (StorageError, PassphraseError):
                skipped.append(recording)  # not this passphrase's (or damaged): left as it is
                continue
            _reseal_copy(recording, header, data, new)
            recordings.append(recording)
        originals += recordings
        for copies_in in {p.parent for p in originals}:
            crypto.sync_folder(copies_in)  # every copy on disk before the list that names it
        check = base64.b64encode(crypto.passphrase_check(new)).decode("ascii")
        crypto.write_atomically(folder / JOURNAL, json.dumps(
            {"files": [p.relative_to(folder).as_posix() for p in originals], "check": check}, indent=1).encode("utf-8"))
        crypto.write_settings(folder, new)  # from here on the new passphrase opens the folder
        crypto.forget_passphrase(folder)
        finish_interrupted(folder, holding_change_lock=True)
    finally:
        if lock is not None:
            lock.close()
        os.close(held)
    return Rekeyed(folder, lock is not None, len(backups), _count_recordings(recordings), skipped)


def _change_lock(folder: Path) -> int | None:
    """The folder's passphrase-change lock, taken without waiting (None: another process holds it)."""
    fd = os.open(folder / CHANGE_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _put_in_place(original: Path) -> None:
    ready = original.with_name(original.name + READY)
    if not ready.exists():
        return  # done already
    if original.suffix == ".db":  # the plain database's WAL and journal hold its pages too
        for suffix in ("-wal", "-journal", "-shm"):
            _overwrite_and_remove(original.with_name(original.name + suffix))
    old = _open_for_overwrite(original)
    try:
        os.replace(ready, original)
    except FileNotFoundError:
        pass
    if old is not None:
        _overwrite(old)


def _open_for_overwrite(path: Path) -> int | None:
    try:
        return os.open(path, os.O_WRONLY)
    except OSError:
        return None


def _overwrite(fd: int) -> None:
    """Best effort: zeros over a plaintext file's bytes before it is gone (SSDs and some filesystems
    may keep old blocks anyway; see the README)."""
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, 0, os.SEEK_SET)
        block = bytes(1 << 20)
        while size > 0:
            size -= os.write(fd, block[: min(size, len(block))])
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_plain_copies(folder: Path) -> None:
    """The page (made again with `companion page -o`) and the cached phrases (rendered again) go."""
    for path in [folder / paths.PAGE_NAME, *(folder / paths.VOICE_CACHE).glob("*.wav")]:
        if path.is_file():
            _overwrite_and_remove(path)


def _overwrite_and_remove(path: Path) -> None:
    fd = _open_for_overwrite(path)
    if fd is not None:
        _overwrite(fd)
        path.unlink(missing_ok=True)


def _discard_unfinished(folder: Path) -> None:
    """Remove the copies (and list) of an unfinished run; their originals are all still in place."""
    journal = folder / JOURNAL
    if journal.exists() and not crypto.is_enabled(folder):
        journal.unlink()
    for pattern in (f"*{PARTIAL}", f"*{READY}"):
        for leftover in folder.rglob(pattern):
            if leftover.is_file() and not (folder / JOURNAL).exists():
                leftover.unlink()


def _is_plain_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _lock_plain_database(database: Path):
    """A connection holding the plain database locked (None if there is no plain database)."""
    if not _is_plain_sqlite(database):
        if database.exists() and database.stat().st_size and not crypto.is_enabled(database.parent):
            raise StorageError(f"{database} is not a Companion database (it is not SQLite)",
                               "it was left untouched; move it aside first")
        return None
    conn = crypto.sqlcipher().connect(str(database), timeout=2.0, isolation_level=None)
    return _hold_exclusively(conn, database, "encryption", "`companion encrypt`")


def _lock_encrypted_database(database: Path, keys: crypto.Keys):
    """A connection holding the encrypted database locked (None if there is none)."""
    if not database.is_file() or database.stat().st_size == 0:
        return None
    conn = crypto.connect(database, keys, timeout=2.0)
    conn.isolation_level = None
    return _hold_exclusively(conn, database, "a new passphrase", "`companion encrypt --change-passphrase`")


def _hold_exclusively(conn, database: Path, purpose: str, command: str):
    """`conn`, holding its database locked for this process alone (refused while others have it open)."""
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if mode.lower() != "delete":
            raise sqlite3.OperationalError("database is locked")
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as e:
        conn.close()
        if "locked" in str(e) or "busy" in str(e):
            raise StorageError("Companion is in use in another window (a reflection, review or practice)",
                               f"finish it, then run {command} again; nothing was changed") from None
        raise StorageError(f"cannot prepare {database} for {purpose}: {e}", "nothing was changed") from None
    except sqlite3.DatabaseError as e:
        conn.close()
        raise StorageError(f"cannot open {database}: {e}", "nothing was changed") from None
    return conn


def _tables(conn, schema: str = "main") -> dict[str, int]:
    names = [r[0] for r in conn.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]  # fmt: skip
    return {name: conn.execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()[0] for name in names}


def _encrypt_database(conn, database: Path, keys: crypto.Keys) -> None:
    """Write `database` (open on `conn`) encrypted to NAME.encrypted, checked table by table."""
    partial = database.with_name(database.name + PARTIAL)
    ready = database.with_name(database.name + READY)
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    try:
        conn.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(partial), keys.passphrase))
        try:
            conn.execute("SELECT sqlcipher_export('encrypted')")
            version = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
            conn.execute(f"PRAGMA encrypted.user_version = {version}")
        finally:
            conn.execute("DETACH DATABASE encrypted")
        expected = _tables(conn)
        check = crypto.connect(partial, keys)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0]
            cipher_errors = check.execute("PRAGMA cipher_integrity_check").fetchall()
            got = _tables(check)
        finally:
            check.close()
        if ok != "ok" or cipher_errors or got != expected:
            raise StorageError(f"the encrypted copy of {database} did not match it", "nothing was changed")
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        paths.make_private(partial)
        os.replace(partial, ready)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _count_recordings(files: list[Path]) -> int:
    return sum(not p.name.endswith(_MARKER) for p in files)


def _plain_recordings(folder: Path) -> list[Path]:
    root = folder / "audio"
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith(_SKIP_SUFFIXES) and not sealed.is_sealed(path):
            found.append(path)
    return found


def _sealed_recordings(folder: Path) -> list[Path]:
    root = folder / "audio"
    if not root.is_dir():
        return []
    return [p for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(_SKIP_SUFFIXES) and sealed.is_sealed(p)]


def _reseal_copy(original: Path, header: sealed.SealedHeader, data: bytes, new: crypto.Keys) -> None:
    """Write `data` (read from `original`, with its `header`) sealed under `new` to NAME.encrypted, checked."""
    partial = original.with_name(original.name + PARTIAL)
    ready = original.with_name(original.name + READY)
    sealed.write_sealed(partial, new, header.kind, data, header.rate)
    try:
        back_header, back, _ = sealed.read_sealed(partial, new)
        if back != data or back_header.kind != header.kind:
            raise StorageError(f"the re-encrypted copy of {original} did not match it", "nothing was changed")
        os.replace(partial, ready)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _seal_copy(original: Path, keys: crypto.Keys) -> None:
    """Write `original` sealed to NAME.encrypted, checked byte for byte."""
    partial = original.with_name(original.name + PARTIAL)
    ready = original.with_name(original.name + READY)
    data = original.read_bytes()
    sealed.write_sealed(partial, keys, sealed.KIND_FILE, data)
    try:
        _, back, complete = sealed.read_sealed(partial, keys)
        if back != data or not complete:
            raise StorageError(f"the encrypted copy of {original} did not match it", "nothing was changed")
        os.replace(partial, ready)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
