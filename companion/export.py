"""Everything Companion stored, as JSON (for keeping) or as Markdown (for bringing to a therapist)."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from companion.storage import Store

EXPORT_FORMAT = "companion-export"
EXPORT_VERSION = 1
_ENTRY_KEYS = (
    "id", "kind", "prompt", "text", "started_at", "ended_at", "audio",
    "engine", "model", "duration", "reflection_id", "session_id",
)  # fmt: skip


def export_json(store: Store) -> dict:
    """All entries (with words and absolute audio paths), sessions and sittings as one dict."""
    entries = []
    for entry in store.list_entries():
        item = {key: entry[key] for key in _ENTRY_KEYS}
        audio = store.audio_path(entry)
        item["audio"] = str(audio) if audio else None
        item["words"] = store.entry_words(entry["id"])
        entries.append(item)
    return {
        "entries": entries,
        "sessions": store.list_sessions(),
        "reflections": store.list_reflections(),
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
    }


def export_markdown(store: Store) -> str:
    """A calm, readable document: reflection sittings, then ripples, then check-ins."""
    entries = store.list_entries()
    lines = ["# Companion — what I said", ""]
    if not entries:
        lines += ["_Nothing recorded yet._", ""]
    sections = [
        ("Reflections", _reflection_lines(store, [e for e in entries if e["kind"] == "reflection"])),
        ("Ripples", _moment_lines([e for e in entries if e["kind"] == "ripple"])),
        ("Check-ins", _moment_lines([e for e in entries if e["kind"] == "checkin"])),
    ]
    for title, body in sections:
        if body:
            lines += [f"## {title}", "", *body]
    return "\n".join(lines).rstrip() + "\n"


def _reflection_lines(store: Store, entries: list[dict]) -> list[str]:
    """One dated block per sitting, each question followed by its answer."""
    sessions = {s["id"]: s for s in store.list_sessions()}
    lines: list[str] = []
    # Entries are in time order; consecutive ones from the same sitting form one block.
    for reflection_id, group in groupby(entries, key=lambda e: e["reflection_id"] or -e["id"]):
        group = list(group)
        sitting = store.get_reflection(reflection_id) if reflection_id > 0 else None
        lines += [f"### {_when((sitting or group[0])['started_at'])}", ""]
        session = sessions.get((sitting or {}).get("session_id") or group[0]["session_id"])
        if session:
            lines += [f"_After the session on {_day(session['held_at'])}._", ""]
        for entry in group:
            if entry["prompt"]:
                lines += [f"**{entry['prompt'].strip()}**", ""]
            lines += [_answer(entry), ""]
    return lines


def _moment_lines(entries: list[dict]) -> list[str]:
    """Ripples and check-ins: a dated heading each, then what was said."""
    lines: list[str] = []
    for entry in entries:
        lines += [f"### {_when(entry['started_at'])}", ""]
        if entry["prompt"]:
            lines += [f"**{entry['prompt'].strip()}**", ""]
        lines += [_answer(entry), ""]
    return lines


def _answer(entry: dict) -> str:
    text = (entry["text"] or "").strip()
    return text if text else "_(no answer)_"


def _day(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _when(iso: str) -> str:
    return f"{_day(iso)}, {datetime.fromisoformat(iso):%H:%M}"
