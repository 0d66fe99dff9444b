"""Numbered schema migrations, applied in order and recorded in `_migrations`.

To change the schema, write a function taking the sqlite-utils `Database` and
append `(next_number, "short name", function)` to `MIGRATIONS`. Never edit or
renumber a migration that has shipped: people's databases already ran it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlite_utils import Database

Migration = tuple[int, str, Callable[[Database], None]]

_SCHEMA_1 = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    held_at TEXT NOT NULL,
    note TEXT,
    source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'auto')),
    created_at TEXT NOT NULL
);
CREATE TABLE reflections (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    engine TEXT,
    model TEXT
);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('reflection', 'ripple', 'checkin')),
    reflection_id INTEGER REFERENCES reflections(id) ON DELETE SET NULL,
    session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
    prompt TEXT,
    text TEXT NOT NULL DEFAULT '',
    original_text TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    duration REAL,
    audio TEXT,
    engine TEXT,
    model TEXT,
    created_at TEXT NOT NULL,
    extra TEXT
);
CREATE TABLE words (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    word TEXT NOT NULL,
    start REAL,
    "end" REAL,
    conf REAL,
    PRIMARY KEY (entry_id, idx)
);
CREATE INDEX sessions_held_at ON sessions(held_at);
CREATE INDEX entries_started_at ON entries(started_at);
CREATE INDEX entries_kind ON entries(kind);
CREATE INDEX entries_reflection_id ON entries(reflection_id);
"""


def _initial_schema(db: Database) -> None:
    db.executescript(_SCHEMA_1)
    db["entries"].enable_fts(["prompt", "text"], tokenize="porter", create_triggers=True)


_SCHEMA_3 = """
CREATE TABLE entry_states (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    PRIMARY KEY (entry_id, state)
);
CREATE INDEX entry_states_state ON entry_states(state);
ALTER TABLE entries ADD COLUMN edited_at TEXT;
"""


def _body_states_and_edits(db: Database) -> None:
    """Check-in body states as rows (for the review digest) and when an entry's text was corrected."""
    for statement in filter(str.strip, _SCHEMA_3.split(";")):
        db.execute(statement)  # one by one: executescript would commit the migration's transaction


_SCHEMA_2 = """
CREATE TABLE practice_runs (
    id INTEGER PRIMARY KEY,
    practice TEXT NOT NULL,
    title TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    duration REAL,
    outcome TEXT NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'finished', 'stopped')),
    commands TEXT NOT NULL DEFAULT '[]',
    mode TEXT,
    engine TEXT
);
CREATE INDEX practice_runs_started_at ON practice_runs(started_at);
"""


def _practice_runs(db: Database) -> None:
    """A table of guided practice runs."""
    for statement in filter(str.strip, _SCHEMA_2.split(";")):
        db.execute(statement)  # one by one: executescript would commit the migration's transaction


_SCHEMA_4 = """
CREATE INDEX entries_moment ON entries(julianday(started_at));
CREATE INDEX entries_kind_moment ON entries(kind, julianday(started_at));
CREATE INDEX entries_session_id ON entries(session_id);
DROP INDEX entries_kind;
CREATE INDEX sessions_moment ON sessions(julianday(held_at));
CREATE INDEX reflections_moment ON reflections(julianday(started_at));
CREATE INDEX practice_runs_moment ON practice_runs(julianday(started_at));
"""


def _moment_indexes(db: Database) -> None:
    """Indexes on the moment things happened, as SQLite's `julianday()` of the stored local time with
    its offset: the exact instant, so periods and "most recent first" read only the rows they show."""
    for statement in filter(str.strip, _SCHEMA_4.split(";")):
        db.execute(statement)  # one by one: executescript would commit the migration's transaction


MIGRATIONS: list[Migration] = [
    (1, "initial schema", _initial_schema),
    (2, "practice runs", _practice_runs),
    (3, "body states and edits", _body_states_and_edits),
    (4, "moment indexes", _moment_indexes),
]

ONLY_INDEXES = {4}
"""Migrations that add only indexes: a store without them reads the same, only slower, so it is still
read as it is where it cannot be updated (a read-only filesystem)."""


def applied(db: Database) -> set[int]:
    """Numbers of the migrations already recorded in this database."""
    if not db["_migrations"].exists():
        return set()
    return {row[0] for row in db.execute("SELECT id FROM _migrations")}


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply every migration not yet recorded, in order, each in its own transaction.

    Returns the numbers applied now (empty when the database is up to date).
    """
    numbers = [number for number, _, _ in migrations]
    if numbers != sorted(set(numbers)):
        raise ValueError(f"migration numbers must be unique and increasing: {numbers}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (id INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
    )
    done: list[int] = []
    for number, name, apply in migrations:
        if number not in applied(db) and _apply_one(db, number, name, apply):
            done.append(number)
    return done


def _apply_one(db: Database, number: int, name: str, apply: Callable[[Database], None]) -> bool:
    """Run one migration under a write lock; False if another process got there first."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        if number in applied(db):
            db.conn.execute("ROLLBACK")
            return False
        apply(db)
        db.execute(
            "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)",
            (number, name, datetime.now().astimezone().isoformat(timespec="seconds")),
        )
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return True
