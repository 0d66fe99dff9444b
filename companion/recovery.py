"""Nothing lost: an answer being recorded has a small marker file beside its audio; if Companion is
stopped before the answer is stored (power cut, kill -9, a crash), the next start finds the marker,
transcribes the audio that reached the disk and stores it as the answer."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from companion import crypto
from companion.errors import CompanionError
from companion.events import SAMPLE_RATE
from companion.paths import data_dir, make_private
from companion.speech.base import SpeechEngine, join_words
from companion.storage import Store

MARKER_SUFFIX = ".pending.json"


@dataclass
class Pending:
    """What is needed to store an answer that was interrupted."""

    kind: str
    prompt: str | None
    started_at: str
    reflection_id: int | None = None
    session_id: int | None = None


def marker_for(audio: Path) -> Path:
    return audio.with_name(audio.name + MARKER_SUFFIX)


def mark_pending(audio: Path, pending: Pending) -> Path:
    """Write the marker before the first sample is recorded (synced, private; sealed like the
    recordings when the data folder is encrypted, since it holds the question)."""
    from companion.audio.files import sealing_keys

    marker = marker_for(audio)
    partial = marker.with_name(marker.name + ".partial")  # whole or not at all: written aside, then renamed
    data = json.dumps(asdict(pending)).encode("utf-8")
    keys = sealing_keys(marker)
    if keys is not None:
        crypto.write_sealed(partial, keys, crypto.KIND_FILE, data)  # synced
    else:
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    make_private(partial)
    os.replace(partial, marker)
    crypto.sync_folder(marker.parent)
    return marker


def read_pending(marker: Path) -> Pending:
    """The marker's contents, sealed or plain."""
    data = crypto.read_sealed(marker, crypto.unlock(data_dir()))[1] if crypto.is_sealed(marker) else marker.read_bytes()
    return Pending(**json.loads(data.decode("utf-8")))


def clear_pending(audio: Path) -> None:
    marker_for(audio).unlink(missing_ok=True)


def read_growing_wav(path: Path) -> np.ndarray:
    """The samples of a 16 kHz 16-bit mono recording written by GrowingWav, by what reached the disk
    rather than by its header (a plain WAV's header may lag the data by up to a second after a crash;
    an encrypted recording is read up to its last complete chunk)."""
    from companion.audio import files

    return files.read_growing(path)


def repair_header_to_size(path: Path) -> int:
    """Make a cut-short recording end cleanly (a plain WAV's header rewritten to what reached the
    disk; an encrypted one trimmed to its last complete second); returns the samples it holds."""
    from companion.audio import files

    return files.repair(path)


def pending_answers() -> list[Path]:
    root = data_dir() / "audio"
    return sorted(root.rglob(f"*{MARKER_SUFFIX}")) if root.is_dir() else []


def recover(store: Store, engine: SpeechEngine) -> list[int]:
    """Store every interrupted answer found; returns the new entry ids."""
    recovered = []
    for marker in pending_answers():
        audio = marker.with_name(marker.name[: -len(MARKER_SUFFIX)])
        try:
            samples = read_growing_wav(audio) if audio.is_file() else np.zeros(0, np.float32)
        except (CompanionError, OSError, ValueError):
            continue  # unreadable now (another passphrase's, damaged): left as it is, for a person to look at
        if len(samples) < SAMPLE_RATE // 4:
            audio.unlink(missing_ok=True)
            marker.unlink()
            continue
        try:
            pending = read_pending(marker)
        except (CompanionError, OSError, ValueError, TypeError):
            # The marker is damaged, but what was said is not: keep it as an answer to no question.
            started = datetime.fromtimestamp(audio.stat().st_mtime).astimezone() - timedelta(seconds=len(samples) / SAMPLE_RATE)
            pending = Pending("reflection", None, started.isoformat(timespec="seconds"))
        repair_header_to_size(audio)
        words = [w for t in engine.transcribe(samples) for w in t.words]
        text = join_words(words)
        states = _body_states(text) if pending.kind == "checkin" else None
        extra = {"recovered": True} if states is None else {"recovered": True, **states}
        with store.db.atomic():
            entry_id = store.add_entry(
                pending.kind, text, prompt=pending.prompt, words=words,
                audio=str(audio.relative_to(data_dir())), started_at=pending.started_at,
                ended_at=datetime.fromisoformat(pending.started_at) + timedelta(seconds=len(samples) / SAMPLE_RATE),
                duration=round(len(samples) / SAMPLE_RATE, 3), engine=engine.name, model=engine.model_name,
                reflection_id=pending.reflection_id, session_id=pending.session_id, extra=extra,
            )
            if states is not None:
                store.set_entry_states(entry_id, states["states"])
        if pending.reflection_id is not None:
            reflection = store.get_reflection(pending.reflection_id)
            if reflection is not None and not reflection.get("ended_at"):
                store.finish_reflection(pending.reflection_id, store.get_entry(entry_id)["ended_at"])
        marker.unlink()
        recovered.append(entry_id)
    return recovered


def _body_states(text: str) -> dict | None:
    """A recovered check-in's body states, as a check-in saved at once would have them (None if
    the person's own body-state file cannot be read: the words are kept all the same)."""
    from companion.errors import CompanionError
    from companion.notice import load_body_vocabulary, map_body_states

    try:
        found = map_body_states(text, load_body_vocabulary())
    except CompanionError:
        return None
    return {"states": found.states, "unknown_words": found.unknown}


def recovered_line(count: int) -> str:
    """What Companion says after storing interrupted answers."""
    if count == 1:
        return "Last time, an answer was cut off before it was saved. I kept what you said, and it is saved now."
    return f"Last time, {count} answers were cut off before they were saved. I kept what you said, and they are saved now."
