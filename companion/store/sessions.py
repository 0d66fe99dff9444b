"""Therapy sessions as the rhythm: marking them, the session of a day, the last one, and reading the
moments a person types ("2026-11-24 16:30"). Grouping by session is in companion.review.periods."""

from __future__ import annotations

from datetime import datetime, timedelta

from companion.errors import CompanionError
from companion.store.database import Store


def session_for(store: Store, when: datetime | None = None) -> int:
    """The session marked on the day of `when` (now by default); if none was, one is marked for it."""
    when = when or datetime.now().astimezone()
    found = store.session_on_day(when.date())
    if found:
        return found["id"]
    return store.add_session(held_at=when.isoformat(timespec="seconds"), source="auto", note="marked by a reflection")


def parse_moment(text: str, *, what: str = "--at") -> datetime:
    """A date or date-and-time typed by a person (ISO, `T` or space), as an aware local datetime."""
    cleaned = text.strip().replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise CompanionError(f"'{text}' is not a date Companion understands for {what}",
                             "use a form like 2026-11-24 or 2026-11-24 16:30") from None
    return moment.astimezone()


def mark_session(store: Store, at: datetime | None = None, note: str | None = None) -> int:
    """Mark that a therapy session took place (now by default); a later time is refused."""
    at = at or datetime.now().astimezone()
    if at > datetime.now().astimezone() + timedelta(minutes=5):
        raise CompanionError("that time is still ahead", "mark a session once it has taken place")
    return store.add_session(held_at=at.isoformat(timespec="seconds"), note=note or None, source="manual")


def since_last_session(store: Store, now: datetime | None = None) -> tuple[dict | None, str | None]:
    """The last session held up to now and the moment the review period starts (None: from the beginning)."""
    now = now or datetime.now().astimezone()
    session = store.last_session(before=now + timedelta(seconds=1))
    return session, session["held_at"] if session else None
