"""Bringing in a reflection recorded elsewhere (a phone voice memo): transcribe it and keep the audio."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from companion.audio import files as audio_files
from companion.errors import InputFileError
from companion.events import SAMPLE_RATE
from companion.paths import data_dir, ensure_private_dir
from companion.speech.base import SpeechEngine, join_words
from companion.store.database import Store
from companion.store.sessions import session_for

FORMATS = "WAV, FLAC, OGG, MP3 or M4A"


def decode(path: Path) -> np.ndarray:
    """Any common audio file as 16 kHz mono float32; InputFileError if it is not audio."""
    if not path.is_file():
        raise InputFileError(f"{path} does not exist or is not a file", "check the path")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path} cannot be read (permission denied)", "check the file's permissions")
    from faster_whisper.audio import decode_audio

    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception:
        raise InputFileError(f"{path} is not an audio file Companion can read (it is not audio, or in a format "
                             "Companion does not know)", f"use a {FORMATS} recording") from None
    if len(samples) < SAMPLE_RATE // 10:
        raise InputFileError(f"{path} holds no audio (it is empty or too short)", f"use a {FORMATS} recording")
    return samples.astype(np.float32, copy=False)


def shown_name(path: Path) -> str:
    """The file's name as text; bytes that are not UTF-8 (a name from an old phone or a Latin-1 system) as \\xNN."""
    return os.fsencode(path.name).decode("utf-8", "backslashreplace")


def _safe_name(path: Path) -> str:
    """The file's name for the private copy: UTF-8, so its path can be stored and exported."""
    return os.fsencode(path.name).decode("utf-8", "replace").replace("\ufffd", "_")


@dataclass
class Imported:
    entry_id: int
    text: str
    duration: float


def import_recording(store: Store, engine: SpeechEngine, path: Path) -> Imported:
    """Transcribe `path`, copy it into the data dir, store it as a reflection; returns the new entry."""
    samples = decode(path)
    duration = len(samples) / SAMPLE_RATE
    transcripts = engine.transcribe(samples)
    words = [w for t in transcripts for w in t.words]
    ended = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    started = ended - timedelta(seconds=duration)
    session_id = session_for(store, started)
    folder = ensure_private_dir(data_dir() / "audio" / started.strftime("%Y-%m"))
    copy = folder / f"import-{started.strftime('%Y%m%dT%H%M%S')}-{_safe_name(path)}"
    audio_files.copy_in(path, copy)  # encrypted in the data folder when encryption is on
    reflection_id = store.start_reflection(session_id, engine.name, engine.model_name, started_at=started.isoformat(timespec="seconds"))
    entry_id = store.add_entry(
        "reflection", join_words(words), prompt=None, words=words, audio=str(copy.relative_to(data_dir())),
        started_at=started.isoformat(timespec="seconds"), ended_at=ended.isoformat(timespec="seconds"),
        duration=round(duration, 3), engine=engine.name, model=engine.model_name,
        reflection_id=reflection_id, session_id=session_id, extra={"imported_from": shown_name(path)},
    )
    store.finish_reflection(reflection_id, ended_at=ended.isoformat(timespec="seconds"))
    return Imported(entry_id, join_words(words), duration)
