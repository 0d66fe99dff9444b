"""Everything Companion stored, for keeping (JSON) or for bringing to a therapist (Markdown; the
HTML page is companion.review.page), and one answer as captions (SRT, WebVTT).

Formatting is pure (dicts in, text out); only `export_json` and `export_markdown` read the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby

from companion.practice.records import practice_runs_for_export
from companion.review.periods import Period, group_by_session, group_by_week
from companion.store.database import Store

EXPORT_FORMAT = "companion-export"
EXPORT_VERSION = 1
_ENTRY_KEYS = (
    "id", "kind", "prompt", "text", "started_at", "ended_at", "audio",
    "engine", "model", "duration", "reflection_id", "session_id",
)  # fmt: skip
_COMPLETE_KEYS = ("original_text", "edited_at", "created_at", "extra")
KIND_TITLE = {"reflection": "reflection", "ripple": "ripple", "checkin": "check-in"}


def export_json(store: Store) -> dict:
    """All entries (with words, body states and absolute audio paths), sessions and sittings as one dict.

    Complete: `Store.restore` rebuilds the same data from it (`companion import-json`).
    """
    entries = []
    for entry in store.list_entries():
        item = {key: entry[key] for key in _ENTRY_KEYS}
        audio = store.audio_path(entry)
        item["audio"] = str(audio) if audio else None
        item["words"] = store.entry_words(entry["id"])
        item.update({key: entry.get(key) for key in _COMPLETE_KEYS})
        item["states"] = store.entry_states(entry["id"])
        entries.append(item)
    return {
        "entries": entries,
        "sessions": store.list_sessions(),
        "reflections": store.list_reflections(),
        "practice_runs": practice_runs_for_export(store),
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
    }


# Markdown


def export_markdown(store: Store, since: str | None = None) -> str:
    """A calm, readable document grouped by therapy session, then by week, in time order."""
    entries = _with_states(store, store.list_entries(since=since))
    return markdown_document(store.list_sessions(), entries)


def _with_states(store: Store, entries: list[dict]) -> list[dict]:
    for entry in entries:
        entry["states"] = store.entry_states(entry["id"])
    return entries


def markdown_document(sessions: list[dict], entries: list[dict]) -> str:
    """The Markdown text for `entries` (each may carry `states`), grouped by session and week."""
    lines = ["# Companion — what I said", ""]
    if not entries:
        lines += ["_Nothing recorded yet._", ""]
    for period in group_by_session(sessions, entries):
        lines += [f"## {period_title(period)}", ""]
        if period.session and period.session.get("note") and period.session.get("source") == "manual":
            lines += [f"_Session note: {period.session['note'].strip()}_", ""]
        if not period.entries:
            lines += ["_Nothing recorded since then yet._", ""]
        for monday, week in group_by_week(period.entries):
            lines += [f"### Week of {day_name(monday)}", ""]
            for _, block in sittings(week):
                first = block[0]
                lines += [f"#### {when(first['started_at'])} — {KIND_TITLE.get(first['kind'], first['kind'])}", ""]
                for entry in block:
                    if entry.get("prompt"):
                        lines += [f"**{entry['prompt'].strip()}**", ""]
                    lines += [answer_text(entry), ""]
                    if entry.get("states"):
                        lines += [f"_Body: {', '.join(entry['states'])}_", ""]
    return "\n".join(lines).rstrip() + "\n"


def sittings(entries: list[dict]):
    """Consecutive answers of one reflection sitting together; every other entry on its own."""
    keyed = groupby(entries, key=lambda e: ("r", e["reflection_id"]) if e.get("reflection_id") else ("e", e["id"]))
    return [(key, list(block)) for key, block in keyed]


def period_title(period: Period) -> str:
    if period.session is None:
        return "Before the first session marked"
    return f"Since the session on {day_name(datetime.fromisoformat(period.session['held_at']))}"


def answer_text(entry: dict) -> str:
    text = (entry.get("text") or "").strip()
    return text if text else "_(no answer)_"


def day_name(moment: date) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def when(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    return f"{day_name(moment)}, {moment:%H:%M}"


# Captions (SRT, WebVTT) for one answer


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def caption_cues(words: list[dict], max_words: int = 8, max_seconds: float = 4.0, gap: float = 0.8) -> list[Cue]:
    """Words grouped into short caption lines, broken at pauses, sentence ends and length limits."""
    cues: list[Cue] = []
    current: list[dict] = []

    def close() -> None:
        if current:
            text = " ".join(w["word"].strip() for w in current).strip()
            cues.append(Cue(current[0]["start"], max(current[-1]["end"], current[0]["start"] + 0.3), text))
            current.clear()

    for word in words:
        if current and (len(current) >= max_words or word["end"] - current[0]["start"] > max_seconds
                        or word["start"] - current[-1]["end"] > gap):
            close()
        current.append(word)
        if word["word"].rstrip().endswith((".", "?", "!")):
            close()
    close()
    return cues


def _stamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    """SubRip text: numbered cues, comma before the milliseconds."""
    blocks = [f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n" for i, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT text: the header, then cues with a dot before the milliseconds."""
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def entry_captions(entry: dict, fmt: str) -> str:
    """Captions for one stored entry (with its `words`); one cue for the whole text if no timings."""
    cues = caption_cues(entry.get("words") or [])
    if not cues and (entry.get("text") or "").strip():
        cues = [Cue(0.0, entry.get("duration") or 2.0, entry["text"].strip())]
    return to_srt(cues) if fmt == "srt" else to_vtt(cues)
