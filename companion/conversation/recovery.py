"""Answers that were cut off (a power cut, `kill -9`, a crash) stored at the next start: the audio
that reached the disk is transcribed and kept under its question, and the person is told so."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from companion.errors import CompanionError
from companion.events import SAMPLE_RATE
from companion.paths import data_dir
from companion.speech.base import SpeechEngine
from companion.store.database import Store
from companion.store.pending import (
    MARKER_SUFFIX,
    Pending,
    in_progress,
    pending_answers,
    read_growing_wav,
    read_pending,
    repair_header_to_size,
)
from companion.textnorm import join_words


def recover(store: Store, engine: SpeechEngine) -> list[int]:
    """Store every interrupted answer found; returns the new entry ids."""
    recovered = []
    for marker in pending_answers():
        if in_progress(marker):
            continue  # being recorded now, by another Companion window
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
    from companion.understand.body_states import load_body_vocabulary, map_body_states

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
