"""How stored entries read in the terminal (pure formatting)."""

from __future__ import annotations

import textwrap

KIND_LABEL = {"reflection": "reflection", "ripple": "ripple", "checkin": "check-in"}


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def entry_line(entry: dict, width: int = 60) -> str:
    text = (entry.get("text") or "").replace("\n", " ")
    text = text if len(text) <= width else text[: width - 1] + "…"
    prompt = f"{entry['prompt']}  " if entry.get("prompt") else ""
    return f"#{entry['id']:<5} {_when(entry.get('started_at'))}  {KIND_LABEL.get(entry['kind'], entry['kind']):<10} {prompt}{text}"


def entry_detail(entry: dict, store=None) -> str:
    lines = [f"#{entry['id']}  {KIND_LABEL.get(entry['kind'], entry['kind'])}  {_when(entry.get('started_at'))}"]
    if entry.get("prompt"):
        lines += ["", entry["prompt"]]
    lines += [""] + textwrap.wrap(entry.get("text") or "(no words recognised)", 78)
    lines.append("")
    if entry.get("duration"):
        lines.append(f"Length: {entry['duration']:.1f} s")
    if entry.get("audio"):
        audio = store.audio_path(entry) if store is not None else entry["audio"]
        lines.append(f"Audio:  {audio}")
    if entry.get("engine"):
        lines.append(f"Heard by: {entry['engine']} ({entry.get('model') or 'unknown model'})")
    return "\n".join(lines)
