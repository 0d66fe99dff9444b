"""How stored entries read in the terminal (pure formatting)."""

from __future__ import annotations

import textwrap

from companion.crypto import is_sealed

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
    if entry.get("original_text") is not None and entry.get("original_text") != entry.get("text"):
        lines += textwrap.wrap(f"Before your correction: {entry['original_text'] or '(empty)'}", 78)
    extra = entry.get("extra") if isinstance(entry.get("extra"), dict) else {}
    if extra.get("states"):
        lines.append(f"Body: {', '.join(extra['states'])}")
    if entry.get("duration"):
        lines.append(f"Length: {entry['duration']:.1f} s")
    if entry.get("audio"):
        audio = store.audio_path(entry) if store is not None else entry["audio"]
        sealed = store is not None and audio is not None and is_sealed(audio)
        lines.append(f"Audio:  {audio}" + ("  (encrypted)" if sealed else ""))
    if entry.get("engine"):
        lines.append(f"Heard by: {entry['engine']} ({entry.get('model') or 'unknown model'})")
    return "\n".join(lines)


def marked_snippet(snippet: str, marks: tuple[str, str] = ("[", "]")) -> str:
    """A search snippet with the matching words in bold instead of brackets."""
    import click

    out, rest = [], snippet
    while marks[0] in rest and marks[1] in rest.split(marks[0], 1)[1]:
        before, rest = rest.split(marks[0], 1)
        word, rest = rest.split(marks[1], 1)
        out += [before, click.style(word, bold=True, underline=True)]
    return "".join(out) + rest


def search_line(result: dict, styled: bool = False) -> str:
    """One search result: id, when, kind, then the matching words in context ([marked], or bold if styled)."""
    kind = KIND_LABEL.get(result["kind"], result["kind"])
    snippet = (result.get("snippet") or "").replace("\n", " ")
    snippet = marked_snippet(snippet) if styled else snippet
    return f"#{result['id']:<5} {_when(result.get('started_at'))}  {kind:<10} {snippet}"
