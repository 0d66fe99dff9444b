"""Companion's private SQLite store: sessions, reflection sittings, entries and their words."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from companion import paths
from companion.errors import StorageError
from companion.events import Word
from companion.migrations import migrate

KINDS = ("reflection", "ripple", "checkin")
SQLITE_MAGIC = b"SQLite format 3\x00"
SNIPPET_MARKS = ("[", "]")
"""What `search()` puts around the matching words in a snippet."""

Timestamp = str | datetime

_ENTRY_LIST_COLUMNS = (
    "id, kind, reflection_id, session_id, prompt, text, original_text, started_at, ended_at, "
    "duration, audio, engine, model, created_at, extra"
)


def now_iso() -> str:
    """The current local time as ISO 8601 with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def to_iso(value: Timestamp | None) -> str | None:
    """Normalise a datetime or ISO string to local ISO 8601 with offset (naive means local)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone().isoformat(timespec="seconds")


def _bound(value: Timestamp | date | None, *, end: bool = False) -> str | None:
    """A `since`/`until` filter value; a bare date as `until` includes that whole day."""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value + timedelta(days=1 if end else 0), time())
    return to_iso(value)


def _check_sqlite_file(path: Path) -> None:
    """Refuse, without touching it, a file that is not an SQLite database."""
    if not path.exists():
        return
    if path.is_dir():
        raise StorageError(f"{path} is a folder, not a database", "give the path of a .db file")
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise StorageError(f"cannot read the database {path}: {e.strerror or e}", "check its permissions") from None
    if header and header != SQLITE_MAGIC:
        raise _not_a_database(path)


def _not_a_database(path: Path) -> StorageError:
    return StorageError(
        f"{path} is not a Companion database (it is not SQLite)",
        "it was left untouched; move it aside or set COMPANION_HOME to another folder",
    )


def _entry_row(row: dict) -> dict:
    row = dict(row)
    if row.get("extra"):
        row["extra"] = json.loads(row["extra"])
    return row


def _word_dict(word: Word | dict) -> dict:
    return (word if isinstance(word, Word) else Word.from_dict(word)).to_dict()


class Store:
    """The database: open it with `Store.open()`, close it with `close()` or a `with` block."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path | None = None) -> Store:
        """Open (creating and migrating as needed) the database at `path` or the default one."""
        path = Path(path) if path is not None else paths.database_path()
        paths.ensure_private_dir(path.parent)
        _check_sqlite_file(path)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            db = Database(path, execute_plugins=False)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open the database {path}: {e}", "check the file and its folder") from None
        try:
            cls._prepare(db)
        except sqlite3.DatabaseError as e:
            db.close()
            if "not a database" in str(e):
                raise _not_a_database(path) from None
            raise StorageError(f"cannot use the database {path}: {e}", "check the file and its folder") from None
        store = cls(db, path)
        store._make_files_private()
        return store

    @staticmethod
    def _prepare(db: Database) -> None:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        db.enable_wal()
        migrate(db)

    def _make_files_private(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            paths.make_private(self.path.with_name(self.path.name + suffix))

    @property
    def root(self) -> Path:
        """The folder holding the database; stored audio paths are relative to it."""
        return self.path.parent

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Sessions

    def add_session(self, held_at: Timestamp | None = None, note: str | None = None, source: str = "manual") -> int:
        """Record a therapy session (default: now) and return its id."""
        row = {"held_at": to_iso(held_at) or now_iso(), "note": note, "source": source, "created_at": now_iso()}
        return self.db["sessions"].insert(row).last_pk

    def last_session(self, before: Timestamp | None = None) -> dict | None:
        """The most recent session, or the most recent one strictly before `before`."""
        where, params = ("WHERE julianday(held_at) < julianday(?)", [to_iso(before)]) if before else ("", [])
        sql = f"SELECT * FROM sessions {where} ORDER BY julianday(held_at) DESC, id DESC LIMIT 1"
        return next(self.db.query(sql, params), None)

    def session_on_day(self, day: date) -> dict | None:
        """The last session held on local date `day`, if any."""
        sql = "SELECT * FROM sessions WHERE substr(held_at, 1, 10) = ? ORDER BY held_at DESC, id DESC LIMIT 1"
        return next(self.db.query(sql, [day.isoformat()]), None)

    def list_sessions(self) -> list[dict]:
        """All sessions, oldest first."""
        return list(self.db.query("SELECT * FROM sessions ORDER BY julianday(held_at), id"))

    # Reflection sittings

    def start_reflection(
        self, session_id: int | None, engine: str | None, model: str | None, started_at: Timestamp | None = None
    ) -> int:
        """Begin one sitting of `companion reflect` and return its id."""
        row = {"session_id": session_id, "started_at": to_iso(started_at) or now_iso(), "engine": engine, "model": model}
        return self.db["reflections"].insert(row).last_pk

    def finish_reflection(self, reflection_id: int, ended_at: Timestamp | None = None) -> None:
        """Mark a sitting as finished (default: now)."""
        self.db.execute(
            "UPDATE reflections SET ended_at = ? WHERE id = ?", [to_iso(ended_at) or now_iso(), reflection_id]
        )

    def get_reflection(self, reflection_id: int) -> dict | None:
        """One sitting, or None."""
        return next(self.db.query("SELECT * FROM reflections WHERE id = ?", [reflection_id]), None)

    def list_reflections(self) -> list[dict]:
        """All sittings, oldest first."""
        return list(self.db.query("SELECT * FROM reflections ORDER BY julianday(started_at), id"))

    # Entries

    def add_entry(
        self,
        kind: str,
        text: str,
        *,
        prompt: str | None = None,
        words: Iterable[Word | dict] = (),
        audio: str | Path | None = None,
        started_at: Timestamp | None = None,
        ended_at: Timestamp | None = None,
        duration: float | None = None,
        engine: str | None = None,
        model: str | None = None,
        reflection_id: int | None = None,
        session_id: int | None = None,
        extra: dict | None = None,
    ) -> int:
        """Save an entry and its words in one transaction; return the entry's id."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        row = {
            "kind": kind, "reflection_id": reflection_id, "session_id": session_id, "prompt": prompt,
            "text": text, "started_at": to_iso(started_at) or now_iso(), "ended_at": to_iso(ended_at),
            "duration": duration, "audio": self._relative_audio(audio), "engine": engine, "model": model,
            "created_at": now_iso(), "extra": json.dumps(extra, ensure_ascii=False) if extra is not None else None,
        }  # fmt: skip
        with self.db.atomic():
            entry_id = self.db["entries"].insert(row).last_pk
            word_rows = [{"entry_id": entry_id, "idx": i, **_word_dict(w)} for i, w in enumerate(words)]
            if word_rows:
                self.db["words"].insert_all(word_rows)
        return entry_id

    def get_entry(self, entry_id: int) -> dict:
        """One entry with its `words` (list of {word, start, end, conf}); StorageError if unknown."""
        row = next(self.db.query("SELECT * FROM entries WHERE id = ?", [entry_id]), None)
        if row is None:
            raise StorageError(f"no entry with id {entry_id}", "`companion list` shows the ids")
        entry = _entry_row(row)
        entry["words"] = self.entry_words(entry_id)
        return entry

    def entry_words(self, entry_id: int) -> list[dict]:
        """The words of one entry, in order."""
        sql = 'SELECT word, start, "end", conf FROM words WHERE entry_id = ? ORDER BY idx'
        return list(self.db.query(sql, [entry_id]))

    def list_entries(
        self,
        kind: str | None = None,
        since: Timestamp | date | None = None,
        until: Timestamp | date | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Entries (without words) oldest first; `since` inclusive, `until` exclusive."""
        clauses, params = _filters(kind, since, until, table="entries")
        where = "WHERE " + " AND ".join(clauses) if clauses else ""
        sql = f"SELECT {_ENTRY_LIST_COLUMNS} FROM entries {where} ORDER BY julianday(started_at), id"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [_entry_row(r) for r in self.db.query(sql, params)]

    def search(
        self,
        query: str,
        kind: str | None = None,
        since: Timestamp | date | None = None,
        until: Timestamp | date | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """Full-text search (stemmed) over prompts and answers, best matches first.

        Each result is an entry (without words) plus a `snippet` with the matching
        words wrapped in `SNIPPET_MARKS`. Every term is quoted, so FTS syntax in the
        query is taken literally; a trailing `*` still searches by prefix.
        """
        match = _fts_query(query)
        if not match:
            return []
        clauses, params = _filters(kind, since, until, table="e")
        columns = ", ".join(f"e.{c.strip()}" for c in _ENTRY_LIST_COLUMNS.split(","))
        sql = f"""
            SELECT {columns},
                snippet(entries_fts, 1, :open, :close, '…', 12) AS text_snippet,
                snippet(entries_fts, -1, :open, :close, '…', 12) AS best_snippet
            FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
            WHERE {" AND ".join(["entries_fts MATCH :match", *clauses])}
            ORDER BY entries_fts.rank, e.id LIMIT :limit
        """
        open_, close = SNIPPET_MARKS
        named = {"open": open_, "close": close, "match": match, "limit": limit, **params}
        return [_search_row(r) for r in self.db.query(sql, named)]

    # Audio files

    def _relative_audio(self, audio: str | Path | None) -> str | None:
        """Store audio paths relative to the data dir when they lie inside it."""
        if audio is None:
            return None
        audio = Path(audio)
        if audio.is_absolute() and audio.is_relative_to(self.root):
            audio = audio.relative_to(self.root)
        return audio.as_posix()

    def audio_path(self, entry: dict) -> Path | None:
        """Absolute path of an entry's audio file (None if it has none)."""
        audio = entry.get("audio")
        return self.root / audio if audio else None


def _filters(kind: str | None, since: Any, until: Any, table: str) -> tuple[list[str], dict]:
    """SQL conditions (and their named parameters) for the kind/since/until filters."""
    clauses, params = [], {}
    if kind is not None:
        clauses.append(f"{table}.kind = :kind")
        params["kind"] = kind
    if since is not None:
        clauses.append(f"julianday({table}.started_at) >= julianday(:since)")
        params["since"] = _bound(since)
    if until is not None:
        clauses.append(f"julianday({table}.started_at) < julianday(:until)")
        params["until"] = _bound(until, end=True)
    return clauses, params


def _search_row(row: dict) -> dict:
    """Prefer a snippet of the person's own words; fall back to the prompt's."""
    text_snippet, best_snippet = row.pop("text_snippet"), row.pop("best_snippet")
    row = _entry_row(row)
    row["snippet"] = text_snippet if SNIPPET_MARKS[0] in text_snippet else best_snippet
    return row


def _fts_query(query: str) -> str:
    """Quote each term so FTS5 operators and stray punctuation cannot break the query."""
    terms = []
    for term in query.split():
        prefix = term.endswith("*") and len(term) > 1
        term = term.rstrip("*").replace('"', '""')
        if term:
            terms.append(f'"{term}"' + ("*" if prefix else ""))
    return " ".join(terms)
