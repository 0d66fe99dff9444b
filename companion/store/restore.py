"""Restoring a `companion export --format json` into an empty data folder (`companion import-json`):
everything is checked first, and on any failure nothing is kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from companion import paths
from companion.errors import StorageError
from companion.store.database import Store, word_dict


def restore_export(store: Store, data: dict, source_dir: Path | None = None) -> int:
    """Restore a `companion export --format json` dict into the empty `store`; returns entries restored.

    Audio files are copied into the data dir (from their exported path, or from `source_dir` plus
    their `audio/...` path). Everything is checked first; on any failure nothing is kept.
    """
    from companion.audio import files as audio_files

    if not store.is_empty():
        raise StorageError("the data folder already holds sessions or entries",
                           "import-json restores into an empty data folder; set COMPANION_HOME to a new one")
    if not isinstance(data, dict) or data.get("format") != "companion-export" or not isinstance(data.get("entries"), list):
        raise StorageError("this is not a Companion JSON export", "make one with `companion export --format json`")
    copies: list[tuple[Path, Path]] = []
    for entry in data["entries"]:
        if entry.get("audio"):
            relative = _audio_relative(entry["audio"])
            source = _find_audio(entry["audio"], relative, source_dir)
            if source is None:
                raise StorageError(f"the recording {entry['audio']} of entry {entry.get('id')} is missing",
                                   "copy the audio folder next to the JSON file and try again")
            copies.append((source, store.root / relative))
    made: list[Path] = []
    try:
        with store.db.atomic():
            for session in data.get("sessions", []):
                store.db["sessions"].insert(session)
            for sitting in data.get("reflections", []):
                store.db["reflections"].insert(sitting)
            for entry in data["entries"]:
                _restore_entry(store, entry)
            for run in data.get("practice_runs", []):
                store.db["practice_runs"].insert(dict(run, commands=json.dumps(run.get("commands", []), ensure_ascii=False)))
            for source, target in copies:
                if not target.exists():
                    paths.ensure_private_dir(target.parent)
                    audio_files.copy_in(source, target)  # encrypted here when encryption is on
                    made.append(target)
    except (sqlite3.Error, KeyError, TypeError, ValueError) as e:
        for path in made:
            path.unlink(missing_ok=True)
        raise StorageError(f"the export could not be restored: {e}", "nothing was stored; check the file") from None
    return len(data["entries"])


def _restore_entry(store: Store, entry: dict) -> None:
    row = {key: entry.get(key) for key in (
        "id", "kind", "reflection_id", "session_id", "prompt", "text", "original_text", "started_at",
        "ended_at", "duration", "engine", "model", "created_at", "edited_at")}  # fmt: skip
    row["text"] = row["text"] or ""
    row["created_at"] = row["created_at"] or row["started_at"]
    row["audio"] = _audio_relative(entry["audio"]) if entry.get("audio") else None
    row["extra"] = json.dumps(entry["extra"], ensure_ascii=False) if entry.get("extra") is not None else None
    store.db["entries"].insert(row)
    words = [{"entry_id": entry["id"], "idx": i, **word_dict(w)} for i, w in enumerate(entry.get("words") or [])]
    if words:
        store.db["words"].insert_all(words)
    states = [{"entry_id": entry["id"], "state": s} for s in entry.get("states") or []]
    if states:
        store.db["entry_states"].insert_all(states)


def _audio_relative(exported: str) -> str:
    """The `audio/...` path of an exported recording, inside the data dir."""
    parts = Path(exported).parts
    if "audio" in parts:
        index = len(parts) - 1 - parts[::-1].index("audio")
        return Path(*parts[index:]).as_posix()
    return f"audio/imported/{Path(exported).name}"


def _find_audio(exported: str, relative: str, source_dir: Path | None) -> Path | None:
    """Where an exported recording can be read now, if anywhere."""
    for candidate in (Path(exported), *([source_dir / relative] if source_dir else [])):
        if candidate.is_file():
            return candidate
    return None
