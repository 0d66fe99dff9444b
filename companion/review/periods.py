"""Periods for the review and the exports: entries grouped by the therapy session before them, and
by week (pure: dicts in, groups out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


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
