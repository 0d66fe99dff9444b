"""Therapy sessions as the rhythm: marking them, and grouping everything by "since the last session".

`session_for` and `mark_session` touch the store; the grouping helpers are pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from companion.errors import CompanionError
from companion.storage import Store


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


@dataclass
class Period:
    """Everything between one session (None: before the first) and the next."""

    session: dict | None
    entries: list[dict] = field(default_factory=list)


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone()


def group_by_session(sessions: list[dict], entries: list[dict]) -> list[Period]:
    """Entries placed after the latest session held at or before them; empty periods dropped."""
    ordered = sorted(sessions, key=lambda s: (_moment(s["held_at"]), s["id"]))
    periods = [Period(None)] + [Period(s) for s in ordered]
    for entry in sorted(entries, key=lambda e: (_moment(e["started_at"]), e["id"])):
        at = _moment(entry["started_at"])
        index = 0
        for i, session in enumerate(ordered, 1):
            if _moment(session["held_at"]) <= at:
                index = i
        periods[index].entries.append(entry)
    return [p for p in periods if p.entries or p.session is not None and p is periods[-1]]


def week_start(iso: str) -> date:
    """The Monday of the week an ISO timestamp falls in (local time)."""
    day = _moment(iso).date()
    return day - timedelta(days=day.weekday())


def group_by_week(entries: list[dict]) -> list[tuple[date, list[dict]]]:
    """Consecutive entries by the week (starting Monday) they fall in."""
    weeks: dict[date, list[dict]] = {}
    for entry in entries:
        weeks.setdefault(week_start(entry["started_at"]), []).append(entry)
    return sorted(weeks.items())


def since_last_session(store: Store, now: datetime | None = None) -> tuple[dict | None, str | None]:
    """The last session held up to now and the moment the review period starts (None: from the beginning)."""
    now = now or datetime.now().astimezone()
    session = store.last_session(before=now + timedelta(seconds=1))
    return session, session["held_at"] if session else None
