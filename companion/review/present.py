"""How stored entries read in the terminal (pure formatting)."""

from __future__ import annotations

import textwrap

import click

from companion.store.sealed import is_sealed

KIND_LABEL = {"reflection": "reflection", "ripple": "ripple", "checkin": "check-in"}


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def fit(text: str, width: int) -> str:
    """`text` on one line of at most `width` characters, cut at a word with "…" when too long."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: max(1, width - 1)]
    if " " in cut[width // 2 :]:  # end at a whole word when one ends in the second half
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def line_width() -> int:
    """The width an entry line may take: the terminal's (100 when the output is not a terminal)."""
    import shutil
    import sys

    return shutil.get_terminal_size((100, 24)).columns - 1 if sys.stdout.isatty() else 100


def screen_rows() -> int:
    """How many entries fit the screen with room for the prompt and a closing line (22 when the
    output is not a terminal, as for a 24-line one; LINES is honoured)."""
    import shutil

    return max(5, shutil.get_terminal_size((100, 24)).lines - 2)


def earlier_line(shown: int) -> str:
    """Said under a list that holds only the most recent entries."""
    return f"(The most recent {shown}. `--all` shows every entry, `--limit N` the last N.)"


def more_found_line(more: int, matched: int, exact: bool = True) -> str:
    """Said under a page of search results when other entries match too (`matched` in all, or more
    than that when not `exact`)."""
    found = (f"{more:,} more found" if more != 1 else "One more found") if exact else f"More than {matched:,} found in all"
    return f"({found}. `--all` shows every one; another word narrows the search.)"


def entry_line(entry: dict, width: int | None = None, styled: bool = False) -> str:
    """One entry on one line of `width` characters (the terminal's): id, when, kind, then the
    person's own words (cut to fit); the question follows only if it fits whole."""
    width = width or line_width()
    when = _when(entry.get("started_at"))
    kind = KIND_LABEL.get(entry["kind"], entry["kind"])
    if width < 80:  # a narrow terminal: the month and day, so the person's words keep their room
        head = f"#{entry['id']:<4} {when[5:]}  {kind:<10} "
    else:
        head = f"#{entry['id']:<5} {when}  {kind:<10} "
    room = max(12, width - len(head))
    text = " ".join((entry.get("text") or "").split()) or "(no words recognised)"
    prompt = " ".join((entry.get("prompt") or "").split())
    line = fit(text, room)
    if prompt and len(line) + 5 + len(prompt) <= room:
        tail = f"  ({prompt})"
        line += click.style(tail, dim=True) if styled else tail
    return head + line


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
