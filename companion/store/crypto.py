"""Encryption at rest (optional): one passphrase protects the database and every recording.

- The database is an SQLCipher 4 database keyed with the passphrase: SQLCipher derives the key with
  PBKDF2-HMAC-SHA512 and a random salt kept in the file, and encrypts every page with AES-256 and an
  HMAC. The file is self-contained: the `sqlcipher` tool opens it (or a backup of it) with the passphrase.
- Recordings are sealed streams (companion.store.sealed): ChaCha20-Poly1305 with a key derived from the passphrase by
  scrypt (the salt and cost are in each file's header, so each file too needs only the passphrase).
- `encryption.json` in the data folder says that encryption is on, and holds nothing secret: the scrypt
  salt and cost for new recordings and a check value, so that a wrong passphrase is told apart from
  damaged data before anything is opened.


The sealed streams of the recordings are in companion.store.sealed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from companion import paths
from companion.errors import PassphraseError, StorageError

ENV_PASSPHRASE = "COMPANION_PASSPHRASE"
ENV_NEW_PASSPHRASE = "COMPANION_NEW_PASSPHRASE"  # the new one, for `companion encrypt --change-passphrase`
SETTINGS_FILE = "encryption.json"
SETTINGS_FORMAT = "companion-encryption"
MIN_PASSPHRASE = 8
SCRYPT_LOG2N, SCRYPT_R, SCRYPT_P = 17, 8, 1  # 128 MiB, about a third of a second here


_NO_PASSPHRASE_HINT = f"set {ENV_PASSPHRASE}, or run Companion in a terminal to be asked for it"


# Keys


@dataclass(frozen=True)
class Kdf:
    """scrypt's salt and cost (not secret)."""

    salt: bytes
    log2n: int = SCRYPT_LOG2N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    def checked(self, where: object) -> Kdf:
        if len(self.salt) != 16 or not (10 <= self.log2n <= 20 and 1 <= self.r <= 16 and 1 <= self.p <= 4):
            raise StorageError(f"the encryption settings of {where} are not valid", "it may be damaged")
        return self


_derived: dict[tuple[bytes, Kdf], tuple[bytes, bytes]] = {}


def _hkdf(key: bytes, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def _derive(passphrase: str, kdf: Kdf) -> tuple[bytes, bytes]:
    """(audio key, check value) for a passphrase; scrypt runs once per passphrase and salt in a process."""
    cache_key = (hashlib.sha256(passphrase.encode("utf-8")).digest(), kdf)
    if cache_key not in _derived:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        master = Scrypt(salt=kdf.salt, length=32, n=2**kdf.log2n, r=kdf.r, p=kdf.p).derive(passphrase.encode("utf-8"))
        _derived[cache_key] = (_hkdf(master, b"companion/audio"), _hkdf(master, b"companion/check"))
    return _derived[cache_key]


@dataclass(frozen=True)
class Keys:
    """An unlocked passphrase: the database is keyed with it, recordings with keys derived from it."""

    passphrase: str = field(repr=False)  # never in a repr, a log or a traceback
    kdf: Kdf | None  # the data folder's scrypt settings (None: reading only, no folder settings)

    @property
    def audio(self) -> bytes:
        if self.kdf is None:
            raise ValueError("these keys are for reading only")
        return self.audio_key(self.kdf)

    def audio_key(self, kdf: Kdf) -> bytes:
        """The audio key for a file sealed with `kdf` (another folder's salt: same passphrase, another key)."""
        return _derive(self.passphrase, kdf)[0]


def normalized(passphrase: str) -> str:
    """The same passphrase however it was typed (Unicode NFC)."""
    return unicodedata.normalize("NFC", passphrase)


# The folder's settings


def settings_path(folder: Path | None = None) -> Path:
    return (folder or paths.data_dir()) / SETTINGS_FILE


def is_enabled(folder: Path | None = None) -> bool:
    """True when the data folder's database and recordings are encrypted."""
    return settings_path(folder).is_file()


def _read_settings(folder: Path) -> tuple[Kdf, bytes]:
    path = settings_path(folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != SETTINGS_FORMAT or data.get("version") != 1:
            raise ValueError("not Companion's encryption settings")
        scrypt = data["scrypt"]
        kdf = Kdf(base64.b64decode(scrypt["salt"]), int(scrypt["log2n"]), int(scrypt["r"]), int(scrypt["p"]))
        check = base64.b64decode(data["check"])
    except OSError as e:
        raise StorageError(f"cannot read {path}: {e.strerror or e}", "check its permissions") from None
    except (ValueError, KeyError, TypeError) as e:
        raise StorageError(f"{path} is damaged ({e})",
                           "it holds no secret; restore it from a copy of the data folder to go on") from None
    return kdf.checked(path), check


def write_settings(folder: Path, keys: Keys) -> Path:
    """Turn encryption on for `folder` (atomically: the settings file appears whole or not at all)."""
    assert keys.kdf is not None
    path = settings_path(folder)
    data = {
        "format": SETTINGS_FORMAT, "version": 1,
        "about": "Companion's database and recordings in this folder are encrypted with a passphrase. "
                 "This file holds no secret.",
        "database": "SQLCipher 4 (keyed with the passphrase)",
        "audio": "ChaCha20-Poly1305 stream, key from scrypt",
        "scrypt": {"salt": base64.b64encode(keys.kdf.salt).decode("ascii"), "log2n": keys.kdf.log2n,
                   "r": keys.kdf.r, "p": keys.kdf.p},
        "check": base64.b64encode(passphrase_check(keys)).decode("ascii"),
    }  # fmt: skip
    write_atomically(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a synced temporary file and a rename (private, 0600)."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make renames in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# The passphrase


_prompted: dict[Path, str] = {}


def _can_prompt() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def given_passphrase() -> str | None:
    """`COMPANION_PASSPHRASE`, if set and not empty."""
    value = os.environ.get(ENV_PASSPHRASE)
    return normalized(value) if value else None


def ask_passphrase(prompt: str = "Passphrase", confirm: bool = False) -> str:
    """The passphrase from `COMPANION_PASSPHRASE`, or asked (hidden) on a terminal; PassphraseError if neither."""
    given = given_passphrase()
    if given is not None:
        return given
    if not _can_prompt():
        raise PassphraseError("your Companion data is encrypted and no passphrase was given", _NO_PASSPHRASE_HINT)
    import click

    value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    return normalized(value)


def ask_new_passphrase() -> str:
    """The new passphrase when changing it: `COMPANION_NEW_PASSPHRASE`, or asked twice (hidden)."""
    value = os.environ.get(ENV_NEW_PASSPHRASE)
    if value:
        return normalized(value)
    if not _can_prompt():
        raise PassphraseError("no new passphrase was given",
                              f"run it in a terminal to be asked, or set {ENV_NEW_PASSPHRASE}")
    import click

    return normalized(click.prompt("New passphrase", hide_input=True, confirmation_prompt=True, err=True))


def passphrase_check(keys: Keys) -> bytes:
    """What the folder's settings keep to tell the right passphrase from a wrong one."""
    assert keys.kdf is not None
    return _derive(keys.passphrase, keys.kdf)[1]


def settings_check(folder: Path) -> str:
    """The folder's passphrase check as stored (changes with every new passphrase or salt)."""
    return base64.b64encode(_read_settings(folder)[1]).decode("ascii")


def forget_passphrase(folder: Path) -> None:
    """Drop the passphrase this process was given for `folder` (after it was changed)."""
    _prompted.pop(folder.resolve(), None)


def check_new_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise PassphraseError(f"the passphrase is too short (at least {MIN_PASSPHRASE} characters)",
                              "a few words you will remember make a good one")
    if "\x00" in passphrase:
        raise PassphraseError("the passphrase cannot hold a NUL character", "choose another")
    return passphrase


def new_keys(passphrase: str, log2n: int = SCRYPT_LOG2N) -> Keys:
    """Keys for a folder being encrypted now: a new random scrypt salt."""
    keys = Keys(check_new_passphrase(normalized(passphrase)), Kdf(os.urandom(16), log2n).checked("new keys"))
    _derive(keys.passphrase, keys.kdf)
    return keys


def unlock(folder: Path | None = None) -> Keys | None:
    """The keys of an encrypted data folder (None if it is not encrypted).

    The passphrase comes from `COMPANION_PASSPHRASE` or is asked once per process on a terminal;
    a missing or wrong one raises PassphraseError (one clear line, exit code 7).
    """
    folder = folder or paths.data_dir()
    if not is_enabled(folder):
        return None
    kdf, check = _read_settings(folder)
    where = folder.resolve()
    passphrase = given_passphrase() or _prompted.get(where)
    if passphrase is None:
        passphrase = ask_passphrase(f"Passphrase for {folder}")
    if not hmac.compare_digest(_derive(passphrase, kdf)[1], check):
        _prompted.pop(where, None)
        raise PassphraseError(f"that passphrase does not unlock the encrypted data in {folder}",
                              "check it and try again (it is case-sensitive); without the right one nothing can be read")
    if given_passphrase() is None:
        _prompted[where] = passphrase
    return Keys(passphrase, kdf)


def reading_keys(folder: Path | None = None) -> Keys:
    """Keys to read sealed files with: the folder's, or (folder not encrypted) the passphrase alone."""
    return unlock(folder) or Keys(ask_passphrase(), None)


# The database (SQLCipher)


_bridged = False


def sqlcipher():
    """The `sqlcipher3` DB-API module, its exceptions also made subclasses of `sqlite3`'s.

    sqlite-utils and Companion catch `sqlite3.OperationalError` and friends; SQLCipher's own classes
    gain the matching `sqlite3` class as a second base so that those handlers keep working unchanged.
    """
    global _bridged
    import sqlite3

    try:
        import sqlcipher3.dbapi2 as module
    except ImportError:
        raise StorageError("encryption needs SQLCipher, and the sqlcipher3 package is not installed",
                           "install it with `pip install sqlcipher3` (it builds against libsqlcipher-dev)") from None
    if not _bridged:
        for name in ("InterfaceError", "DatabaseError", "DataError", "OperationalError", "IntegrityError",
                     "InternalError", "ProgrammingError", "NotSupportedError"):  # fmt: skip
            ours, std = getattr(module, name), getattr(sqlite3, name)
            if not issubclass(ours, std):
                ours.__bases__ = (*ours.__bases__, std)
        _bridged = True
    return module


def sql_string(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def connect(database: Path | str, keys: Keys, *, uri: bool = False, timeout: float = 5.0):
    """A connection to an SQLCipher database keyed with the passphrase (not yet read: a wrong key or a
    file that is not SQLCipher shows on the first statement, as `DatabaseError: file is not a database`)."""
    module = sqlcipher()
    conn = module.connect(str(database), uri=uri, timeout=timeout)
    conn.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to report, in one line
    conn.execute(f"PRAGMA key = {sql_string(keys.passphrase)}")
    return conn


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
