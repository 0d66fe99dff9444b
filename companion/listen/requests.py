"""Spoken requests as every hands-free way in reads them: the shared understanding
(companion/understand/intents.py) with the person's own practices added by their spoken names."""

from __future__ import annotations

from companion.practice.model import load_all
from companion.understand.intents import Request, understand


def own_practices() -> dict[str, tuple[str, ...]]:
    """The person's own practices (their practices folder) by name, with the phrases that choose them;
    files that cannot be used are left out here (`companion practices` names them)."""
    practices, _problems = load_all()
    return {p.name: p.spoken_names for p in practices.values() if p.source == "yours"}


def understand_request(text: str, name: str = "companion") -> Request:
    """What `text` asks for, the person's own practices included."""
    return understand(text, name=name, practices=own_practices())
