"""Practice runs kept for review: writing runs to the `practice_runs` table, reading them, and export."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from companion.store.database import Store
from companion.store.queries import now_iso


@dataclass
class HeardCommand:
    command: str
    at: float  # seconds into the practice
    text: str


@dataclass
class RunRecord:
    practice: str
    title: str
    mode: str
    engine: str | None
    commands: list[HeardCommand] = field(default_factory=list)


def start_run(store: Store, record: RunRecord) -> int:
    row = {"practice": record.practice, "title": record.title, "started_at": now_iso(), "outcome": "running",
           "commands": "[]", "mode": record.mode, "engine": record.engine}
    return store.db["practice_runs"].insert(row).last_pk


def finish_run(store: Store, run_id: int, record: RunRecord, finished: bool, duration: float) -> None:
    commands = [{"command": c.command, "at": round(c.at, 2), "text": c.text} for c in record.commands]
    store.db["practice_runs"].update(run_id, {
        "ended_at": now_iso(), "duration": round(duration, 2), "outcome": "finished" if finished else "stopped",
        "commands": json.dumps(commands, ensure_ascii=False),
    })


def count_runs(store: Store) -> int:
    """How many practices were begun so far."""
    return store.db.execute("SELECT count(*) FROM practice_runs").fetchone()[0]


def _run_dict(row: dict) -> dict:
    row = dict(row)
    row["commands"] = json.loads(row.get("commands") or "[]")
    return row


def list_runs(store: Store) -> list[dict]:
    """Every practice run, oldest first."""
    if not store.db["practice_runs"].exists():
        return []
    return [_run_dict(r) for r in store.db.query("SELECT * FROM practice_runs ORDER BY started_at, id")]


def practice_runs_for_export(store: Store) -> list[dict]:
    """Practice runs for `companion export`: practice, start, duration, outcome and commands heard."""
    return [
        {"id": r["id"], "practice": r["practice"], "title": r["title"], "started_at": r["started_at"],
         "ended_at": r["ended_at"], "duration": r["duration"], "outcome": r["outcome"], "mode": r["mode"],
         "engine": r["engine"], "commands": r["commands"]}
        for r in list_runs(store)
    ]
