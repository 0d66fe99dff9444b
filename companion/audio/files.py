"""Stored recordings, encrypted or not: one small API so that callers need not care.

- `read_samples(path)`: mono float32 samples and their rate (replay, review).
- `compact_speech(path)`: the recording as a small Ogg Opus file, for the private page.
- `read_growing(path)`: the samples of a recording cut short by a crash, by what reached the disk.
- `copy_in(source, target)`: bring a file into the data folder (encrypted there when encryption is on).
- `repair(path)`: after a crash, make a cut-short recording end cleanly; returns its frames.
- `sealing_keys(path)`: the keys a new file at `path` is encrypted with (None: written in the clear).

Recordings are written by `companion.audio.wavfile.GrowingWav`, which encrypts by itself when
encryption is on for the data folder.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
from pathlib import Path

import numpy as np

from companion import paths
from companion.errors import InputFileError
from companion.events import SAMPLE_RATE
from companion.store import crypto, sealed

WAV_HEADER_SIZE = 44


def wav_header(frames: int, rate: int = SAMPLE_RATE) -> bytes:
    """The 44-byte header of a 16-bit mono PCM WAV holding `frames` samples."""
    data_bytes = frames * 2
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", data_bytes,
    )


def pcm_to_float(data: bytes) -> np.ndarray:
    data = data[: len(data) - len(data) % 2]
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0


def sealing_keys(path: Path) -> crypto.Keys | None:
    """The keys a new file at `path` is sealed with: set when encryption is on for the data folder
    and `path` lies inside it (exports and other files elsewhere are the person's own)."""
    folder = paths.data_dir()
    if not crypto.is_enabled(folder):
        return None
    try:
        Path(path).absolute().resolve().relative_to(folder.absolute().resolve())
    except ValueError:
        return None
    return crypto.unlock(folder)


def is_encrypted(path: Path) -> bool:
    return sealed.is_sealed(path)


def read_samples(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples of a stored recording and their rate."""
    if sealed.is_sealed(path):
        header, data, _ = sealed.read_sealed(path)
        if header.kind == sealed.KIND_PCM16:
            return pcm_to_float(data), header.rate
        return _decode(io.BytesIO(data), path)
    return _decode(str(path), path)


def _decode(source, path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(source, dtype="float32", always_2d=True)
        return samples.mean(axis=1), rate
    except (RuntimeError, TypeError, ValueError):  # soundfile's LibsndfileError is a RuntimeError
        pass
    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:  # formats libsndfile does not read (M4A): the decoder the importer uses
        from faster_whisper.audio import decode_audio

        return decode_audio(source, sampling_rate=SAMPLE_RATE), SAMPLE_RATE
    except Exception as e:
        raise InputFileError(f"the recording {path} cannot be decoded ({type(e).__name__})",
                             "its text is still kept") from None


OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_COMPRESSION = 0.96
"""libsndfile's Opus compression level: 0.96 is about 17 kbit/s, clear for speech (~130 KB a minute)."""


def compact_speech(path: Path) -> bytes:
    """A stored recording (decrypted when encryption is on) as Ogg Opus at a speech bitrate, in memory."""
    import soundfile as sf

    from companion.audio.resample import resample

    samples, rate = read_samples(path)
    if rate not in OPUS_RATES:
        samples, rate = resample(samples, rate, SAMPLE_RATE), SAMPLE_RATE
    out = io.BytesIO()
    sf.write(out, np.ascontiguousarray(samples, dtype=np.float32), rate, format="OGG", subtype="OPUS",
             compression_level=OPUS_COMPRESSION)
    return out.getvalue()


def read_growing(path: Path) -> np.ndarray:
    """The 16 kHz samples of a recording written by GrowingWav that a crash cut short, by what reached
    the disk (a plain WAV's header may lag its data by up to a second; an encrypted one keeps every
    complete chunk)."""
    if sealed.is_sealed(path):
        header, data, _ = sealed.read_sealed(path)
        if header.kind == sealed.KIND_FILE:  # a plain growing WAV that `companion encrypt` sealed whole
            data = data[WAV_HEADER_SIZE:]
        return pcm_to_float(data)
    return pcm_to_float(Path(path).read_bytes()[WAV_HEADER_SIZE:])


def repair(path: Path) -> int:
    """After a crash: make a cut-short recording end cleanly (a plain WAV's header rewritten to its
    size; an encrypted one trimmed to its last complete chunk). Returns the frames it holds."""
    if sealed.is_sealed(path):
        kept = sealed.trim_sealed(path)
        header = sealed.SealedHeader.unpack(Path(path).read_bytes()[: sealed.SEAL_HEADER_SIZE], path)
        return (kept - (WAV_HEADER_SIZE if header.kind == sealed.KIND_FILE else 0)) // 2
    frames = max(0, (Path(path).stat().st_size - WAV_HEADER_SIZE) // 2)
    with open(path, "r+b") as f:
        f.write(wav_header(frames))
    return frames


def copy_in(source: Path, target: Path) -> None:
    """Copy a recording into the data folder: encrypted there when encryption is on (an encrypted
    source is opened with the passphrase), otherwise as it is. The copy is private (0600)."""
    keys = sealing_keys(target)
    if keys is None and not sealed.is_sealed(source):
        shutil.copyfile(source, target)
        paths.make_private(target)
        return
    if sealed.is_sealed(source):
        header, data, _ = sealed.read_sealed(source, keys)
        kind, rate = header.kind, header.rate
    else:
        data, kind, rate = Path(source).read_bytes(), sealed.KIND_FILE, 0
    if keys is not None:
        sealed.write_sealed(target, keys, kind, data, rate)
        return
    if kind == sealed.KIND_PCM16:
        data = wav_header(len(data) // 2, rate) + data
    fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    paths.make_private(target)
