"""Sealed streams: the encrypted form of a recording (and of any file sealed in the data folder).

A sealed stream is the STREAM construction (as in age): a header, then chunks of `chunk` plaintext
bytes, each sealed on its own with the nonce `chunk number (11 bytes) || last-chunk flag (1 byte)` under
a key of its own file (HKDF of the audio key and a random 16-byte file nonce), the header as associated
data. A recording is sealed chunk by chunk as it grows (one chunk a second, synced), so it is never on
disk in the clear, and after a crash everything up to the last complete chunk can still be read.
Chunks can't be reordered, dropped from the middle or altered; a missing end is accepted (a crash
leaves one), and the reader says whether the stream was complete. The keys are companion.store.crypto's.
"""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from companion import paths
from companion.errors import PassphraseError, StorageError
from companion.store.crypto import Kdf, Keys, _hkdf, _write_all, reading_keys

SEAL_MAGIC = b"CMPNSEAL"
SEAL_VERSION = 1
KIND_PCM16 = 1  # 16-bit little-endian mono PCM at `rate` (a recording)
KIND_FILE = 2  # the bytes of a file (an imported recording, or one encrypted by `companion encrypt`)
TAG = 16
_HEADER = struct.Struct("<8sBBIIBBB16s16s16s")
SEAL_HEADER_SIZE = _HEADER.size


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
