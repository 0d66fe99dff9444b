"""Pieces of the store's queries: times as stored (local ISO 8601 with the offset), the kind and
period filters, and a search query that FTS5 takes literally."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

Timestamp = str | datetime

ENTRY_COLUMNS = (
    "id, kind, reflection_id, session_id, prompt, text, original_text, started_at, ended_at, "
    "duration, audio, engine, model, created_at, extra, edited_at"
)
"""An entry's columns as listed and searched (its words are read apart)."""


def entry_row(row: dict) -> dict:
    """An entry row as a dict, its `extra` read from JSON."""
    row = dict(row)
    if row.get("extra"):
        row["extra"] = json.loads(row["extra"])
    return row



def now_iso() -> str:
    """The current local time as ISO 8601 with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")

def to_iso(value: Timestamp | None) -> str | None:
    """Normalise a datetime or ISO string to local ISO 8601 with offset (naive means local)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone().isoformat(timespec="seconds")

def bound(value: Timestamp | date | None, *, end: bool = False) -> str | None:
    """A `since`/`until` filter value; a bare date as `until` includes that whole day."""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value + timedelta(days=1 if end else 0), time())
    return to_iso(value)

def filters(kind: str | None, since: Any, until: Any, table: str) -> tuple[list[str], dict]:
    """SQL conditions (and their named parameters) for the kind/since/until filters.

    Times are compared as `julianday()` of the stored local time with its offset (the exact instant,
    whatever the offset); the store's indexes are on that same expression, so a period is read
    through them."""
    clauses, params = [], {}
    if kind is not None:
        clauses.append(f"{table}.kind = :kind")
        params["kind"] = kind
    if since is not None:
        clauses.append(f"julianday({table}.started_at) >= julianday(:since)")
        params["since"] = bound(since)
    if until is not None:
        clauses.append(f"julianday({table}.started_at) < julianday(:until)")
        params["until"] = bound(until, end=True)
    return clauses, params

def fts_query(query: str) -> str:
    """Quote each term so FTS5 operators and stray punctuation cannot break the query."""
    terms = []
    for term in query.split():
        prefix = term.endswith("*") and len(term) > 1
        term = term.rstrip("*").replace('"', '""')
        if term:
            terms.append(f'"{term}"' + ("*" if prefix else ""))
    return " ".join(terms)
