"""Encryption at rest (optional): one passphrase protects the database and every recording.

- The database is an SQLCipher 4 database keyed with the passphrase: SQLCipher derives the key with
  PBKDF2-HMAC-SHA512 and a random salt kept in the file, and encrypts every page with AES-256 and an
  HMAC. The file is self-contained: the `sqlcipher` tool opens it (or a backup of it) with the passphrase.
- Recordings are sealed streams (below): ChaCha20-Poly1305 with a key derived from the passphrase by
  scrypt (the salt and cost are in each file's header, so each file too needs only the passphrase).
- `encryption.json` in the data folder says that encryption is on, and holds nothing secret: the scrypt
  salt and cost for new recordings and a check value, so that a wrong passphrase is told apart from
  damaged data before anything is opened.

A sealed stream is the STREAM construction (as in age): a header, then chunks of `chunk` plaintext
bytes, each sealed on its own with the nonce `chunk number (11 bytes) || last-chunk flag (1 byte)` under
a key of its own file (HKDF of the audio key and a random 16-byte file nonce), the header as associated
data. A recording is sealed chunk by chunk as it grows (one chunk a second, synced), so it is never on
disk in the clear, and after a crash everything up to the last complete chunk can still be read.
Chunks can't be reordered, dropped from the middle or altered; a missing end is accepted (a crash
leaves one), and the reader says whether the stream was complete.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
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

SEAL_MAGIC = b"CMPNSEAL"
SEAL_VERSION = 1
KIND_PCM16 = 1  # 16-bit little-endian mono PCM at `rate` (a recording)
KIND_FILE = 2  # the bytes of a file (an imported recording, or one encrypted by `companion encrypt`)
TAG = 16
_HEADER = struct.Struct("<8sBBIIBBB16s16s16s")
SEAL_HEADER_SIZE = _HEADER.size

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


# Sealed streams (recordings)


@dataclass(frozen=True)
class SealedHeader:
    kind: int
    rate: int
    chunk: int
    kdf: Kdf
    nonce: bytes
    check: bytes

    def pack(self) -> bytes:
        return _HEADER.pack(SEAL_MAGIC, SEAL_VERSION, self.kind, self.rate, self.chunk, self.kdf.log2n,
                            self.kdf.r, self.kdf.p, self.kdf.salt, self.nonce, self.check)

    @classmethod
    def unpack(cls, data: bytes, where: object) -> SealedHeader:
        if len(data) < _HEADER.size or not data.startswith(SEAL_MAGIC):
            raise StorageError(f"{where} is not an encrypted Companion recording", "it may be damaged")
        _, version, kind, rate, chunk, log2n, r, p, salt, nonce, check = _HEADER.unpack(data[: _HEADER.size])
        if version != SEAL_VERSION or kind not in (KIND_PCM16, KIND_FILE) or not 1 <= chunk <= 1 << 24:
            raise StorageError(f"{where} is an encrypted recording of a kind this Companion cannot read",
                               "update Companion")
        return cls(kind, rate, chunk, Kdf(salt, log2n, r, p).checked(where), nonce, check)


class _FileCipher:
    """The AEAD of one sealed file: its own key (HKDF of the audio key and the file nonce)."""

    def __init__(self, audio_key: bytes, header: SealedHeader) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        key, self.key_check = _file_key(audio_key, header.nonce)
        self._aead = ChaCha20Poly1305(key)
        self.header = header
        self._aad = header.pack()

    @staticmethod
    def nonce(index: int, last: bool) -> bytes:
        return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")

    def seal(self, index: int, plain: bytes, last: bool) -> bytes:
        return self._aead.encrypt(self.nonce(index, last), plain, self._aad)

    def open(self, index: int, sealed: bytes, last: bool) -> bytes | None:
        from cryptography.exceptions import InvalidTag

        if len(sealed) < TAG:
            return None
        try:
            return self._aead.decrypt(self.nonce(index, last), bytes(sealed), self._aad)
        except InvalidTag:
            return None


def _file_key(audio_key: bytes, nonce: bytes) -> tuple[bytes, bytes]:
    """(the file's AEAD key, a 16-byte check value that tells a wrong passphrase from damage)."""
    material = _hkdf(audio_key, b"companion/audio-file", 48, salt=nonce)
    return material[:32], material[32:]


def _new_cipher(keys: Keys, kind: int, rate: int, chunk: int) -> _FileCipher:
    nonce = os.urandom(16)
    _, check = _file_key(keys.audio, nonce)
    return _FileCipher(keys.audio, SealedHeader(kind, rate, chunk, keys.kdf, nonce, check))


def _open_cipher(header: SealedHeader, keys: Keys, where: object) -> _FileCipher:
    audio_key = keys.audio_key(header.kdf)
    if not hmac.compare_digest(_file_key(audio_key, header.nonce)[1], header.check):
        raise PassphraseError(f"the encrypted recording {where} does not open with this passphrase",
                              "it was encrypted with another passphrase")
    return _FileCipher(audio_key, header)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def is_sealed(path: Path) -> bool:
    """True for a file written by SealedWriter (an encrypted recording)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SEAL_MAGIC)) == SEAL_MAGIC
    except OSError:
        return False


class SealedWriter:
    """Writes a sealed stream; each chunk is sealed, written (and with `sync`, synced) once it is full."""

    def __init__(self, path: Path, keys: Keys, kind: int, rate: int = 0, chunk: int = 1 << 16,
                 sync: bool = True) -> None:
        self.path, self.kind, self.rate, self.chunk = Path(path), kind, rate, chunk
        self._keys, self._sync = keys, sync
        self._fd = -1
        self._start(self.path)

    def _start(self, path: Path) -> None:
        self._cipher = _new_cipher(self._keys, self.kind, self.rate, self.chunk)
        self._index = 0
        self._buffer = bytearray()
        self._fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        paths.make_private(path)
        _write_all(self._fd, self._cipher.header.pack())
        if self._sync:
            os.fsync(self._fd)

    @property
    def size(self) -> int:
        """Plaintext bytes written so far."""
        return self._index * self.chunk + len(self._buffer)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self.chunk:
            self._seal(bytes(self._buffer[: self.chunk]), last=False)
            del self._buffer[: self.chunk]

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self._cipher.seal(self._index, plain, last)
        start = os.lseek(self._fd, 0, os.SEEK_CUR)
        try:
            _write_all(self._fd, sealed)
            if self._sync:
                os.fsync(self._fd)
        except OSError:  # (a full disk) leave no half chunk behind; the same chunk is sealed again later
            try:
                os.ftruncate(self._fd, start)
                os.lseek(self._fd, start, os.SEEK_SET)
            except OSError:
                pass
            raise
        self._index += 1

    def truncate(self, size: int) -> None:
        """Keep only the first `size` plaintext bytes.

        Within the chunk still in memory that is a cut; further back, the file is written anew under a
        fresh file key (a sealed chunk is never sealed again with other contents under the same nonce).
        """
        if size >= self._index * self.chunk:
            del self._buffer[size - self._index * self.chunk :]
            return
        partial = self.path.with_name(self.path.name + ".rewrite")
        old, sync = (self._fd, self._cipher, self._index, self._buffer), self._sync
        try:
            self._sync = False
            self._start(partial)
            for plain in SealedReader(self.path, self._keys):  # chunk by chunk: memory stays flat
                self.write(plain[: size - self.size])
                if self.size >= size:
                    break
            os.fsync(self._fd)
            os.replace(partial, self.path)
        except BaseException:
            if self._fd not in (-1, old[0]):
                os.close(self._fd)
            self._fd, self._cipher, self._index, self._buffer = old
            partial.unlink(missing_ok=True)
            raise
        finally:
            self._sync = sync
        os.close(old[0])

    def close(self) -> None:
        """Seal the last chunk (marked last) and close; the file is complete."""
        if self.closed:
            return
        try:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SealedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SealedReader:
    """Reads a sealed file chunk by chunk (`for plain in reader`), never holding more than one chunk.

    Every chunk must authenticate, except that a stream may end early (a crash): then iteration stops
    after the last complete chunk and `complete` stays False. PassphraseError if the file was sealed
    under another passphrase; StorageError if it is damaged.
    """

    def __init__(self, path: Path, keys: Keys | None = None) -> None:
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")
            self._size = os.fstat(self._file.fileno()).st_size
        except OSError as e:
            raise StorageError(f"cannot read the recording {path}: {e.strerror or e}", "check its permissions") from None
        try:
            self.header = SealedHeader.unpack(self._file.read(_HEADER.size), self.path)
            self._cipher = _open_cipher(self.header, keys or reading_keys(), self.path)
        except BaseException:
            self._file.close()
            raise
        self.complete = False
        self.good_bytes = _HEADER.size  # the file's length up to the last chunk that authenticated

    def __iter__(self):
        step = self.header.chunk + TAG
        index = 0
        try:
            while True:
                piece = self._file.read(step)
                if self._file.tell() < self._size:
                    plain = self._cipher.open(index, piece, last=False)
                    if plain is None:
                        raise StorageError(f"the encrypted recording {self.path} is damaged (part {index + 1} does "
                                           "not authenticate)", "its text is still kept in the database")
                else:
                    for last in (True, False):  # the last chunk, or a stream a crash cut short
                        plain = self._cipher.open(index, piece, last)
                        if plain is not None:
                            self.complete = last
                            break
                    else:
                        return  # a chunk cut in the middle by a crash: at most one chunk is lost
                self.good_bytes += len(piece)
                yield plain
                if self._file.tell() >= self._size:
                    return
                index += 1
        finally:
            self._file.close()


def read_sealed(path: Path, keys: Keys | None = None) -> tuple[SealedHeader, bytes, bool]:
    """(header, plaintext, complete) of a sealed file (see SealedReader)."""
    reader = SealedReader(path, keys)
    plain = b"".join(reader)
    return reader.header, plain, reader.complete


def trim_sealed(path: Path, keys: Keys | None = None) -> int:
    """Drop a half-written last chunk (after a crash) so that the file ends at a complete chunk;
    returns the plaintext bytes kept. Nothing is decrypted to disk."""
    reader = SealedReader(path, keys)
    kept = sum(len(plain) for plain in reader)
    if reader.good_bytes < Path(path).stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(reader.good_bytes)
            f.flush()
            os.fsync(f.fileno())
    return kept


def write_sealed(path: Path, keys: Keys, kind: int, data: bytes, rate: int = 0) -> None:
    """Seal `data` into a new file at `path` (synced, private)."""
    writer = SealedWriter(path, keys, kind, rate, sync=False)
    try:
        writer.write(data)
        writer.close()
    except BaseException:
        if not writer.closed:
            os.close(writer._fd)
        Path(path).unlink(missing_ok=True)
        raise
