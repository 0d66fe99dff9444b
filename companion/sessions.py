"""Therapy sessions as the rhythm: finding (or quietly marking) the session an entry belongs to."""

from __future__ import annotations

from datetime import datetime

from companion.storage import Store


def session_for(store: Store, when: datetime | None = None) -> int:
    """The session marked on the day of `when` (now by default); if none was, one is marked for it."""
    when = when or datetime.now().astimezone()
    found = store.session_on_day(when.date())
    if found:
        return found["id"]
    return store.add_session(held_at=when.isoformat(timespec="seconds"), source="auto", note="marked by a reflection")
