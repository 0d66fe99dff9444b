"""Companion's private SQLite store: sessions, reflection sittings, entries and their words."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from sqlite_utils import Database

from companion import paths
from companion.errors import StorageError
from companion.events import Word
from companion.store import crypto
from companion.store.backup import daily_backup_quietly, read_only_uri
from companion.store.damage import check_sqlite_file, damaged_database, not_a_database
from companion.store.migrations import MIGRATIONS, ONLY_INDEXES, applied, migrate
from companion.store.queries import ENTRY_COLUMNS, Timestamp, entry_row, filters, now_iso, to_iso
from companion.store.search import SNIPPET_MARKS, SearchPage, search_page  # noqa: F401  (SNIPPET_MARKS: part of the store's face)
from companion.textnorm import join_words

KINDS = ("reflection", "ripple", "checkin")


def word_dict(word: Word | dict) -> dict:
    return (word if isinstance(word, Word) else Word.from_dict(word)).to_dict()


class Store:
    """The database: open it with `Store.open()`, close it with `close()` or a `with` block."""

    def __init__(self, db: Database, path: Path, read_only: bool = False) -> None:
        self.db = db
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(cls, path: Path | None = None, *, reading: bool = False) -> Store:
        """Open (creating and migrating as needed) the database at `path` or the default one.

        `reading`: the caller only reads, so a data folder on a read-only filesystem is opened as it
        is (no backup, no migration, no write) instead of refused."""
        path = Path(path) if path is not None else paths.database_path()
        try:
            paths.ensure_private_dir(path.parent)
        except paths.ReadOnlyFolder:
            if reading and path.is_file():
                return cls._open_read_only(path)
            raise
        keys = crypto.unlock(path.parent)  # None unless encryption is on; asks for the passphrase if needed
        if keys is not None:
            from companion.store.encrypt import finish_interrupted

            finish_interrupted(path.parent)
        check_sqlite_file(path, encrypted=keys is not None)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        elif path == paths.database_path():
            daily_backup_quietly(path)  # before any migration; at most once a day, a few kept
        try:
            db = Database(crypto.connect(path, keys) if keys else path, execute_plugins=False)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open the database {path}: {e}", "check the file and its folder") from None
        try:
            cls._prepare(db)
        except sqlite3.DatabaseError as e:
            db.close()
            if "not a database" in str(e):
                raise not_a_database(path, encrypted=keys is not None) from None
            if "malformed" in str(e):
                raise damaged_database(path, str(e)) from None
            if "locked" in str(e) or "busy" in str(e):
                raise StorageError(f"the database {path} is held by another Companion window (encrypting it, say)",
                                   "try again when that is done; nothing was changed") from None
            raise StorageError(f"cannot use the database {path}: {e}", "check the file and its folder") from None
        store = cls(db, path)
        store._make_files_private()
        return store

    @classmethod
    def _open_read_only(cls, path: Path) -> Store:
        """The database in a folder on a read-only filesystem, for reading: nothing is written."""
        keys = crypto.unlock(path.parent)
        check_sqlite_file(path, encrypted=keys is not None)
        uri = read_only_uri(path)
        try:
            conn = crypto.connect(uri, keys, uri=True) if keys else sqlite3.connect(uri, uri=True)
            db = Database(conn, execute_plugins=False)
            missing = {number for number, _, _ in MIGRATIONS} - applied(db) - ONLY_INDEXES
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e):
                raise not_a_database(path, encrypted=keys is not None) from None
            if "malformed" in str(e):
                raise damaged_database(path, str(e)) from None
            raise StorageError(f"cannot read the database {path} on a read-only filesystem: {e}",
                               "remount it read-write (it may not have been closed cleanly); nothing in it was changed") from None
        if missing:
            db.close()
            raise StorageError(f"the database {path} was written by an older Companion and needs updating, "
                               "which cannot be done on a read-only filesystem",
                               "remount it read-write once; nothing in it was changed")
        return cls(db, path, read_only=True)

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
        sql = ("SELECT * FROM sessions WHERE held_at >= :day AND held_at < :day || 'Z' "
               "ORDER BY held_at DESC, id DESC LIMIT 1")  # the local date begins the stored text
        return next(self.db.query(sql, {"day": day.isoformat()}), None)

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
        try:
            with self.db.atomic():
                entry_id = self.db["entries"].insert(row).last_pk
                word_rows = [{"entry_id": entry_id, "idx": i, **word_dict(w)} for i, w in enumerate(words)]
                if word_rows:
                    self.db["words"].insert_all(word_rows)
        except sqlite3.OperationalError as e:
            if "full" in str(e):  # SQLITE_FULL: the transaction was rolled back, earlier entries are intact
                raise StorageError("the disk is full, so this could not be saved",
                                   "free some space; nothing stored earlier is lost") from None
            raise
        return entry_id

    def get_entry(self, entry_id: int) -> dict:
        """One entry with its `words` (list of {word, start, end, conf}); StorageError if unknown."""
        row = next(self.db.query("SELECT * FROM entries WHERE id = ?", [entry_id]), None)
        if row is None:
            raise StorageError(f"no entry with id {entry_id}", "`companion list` shows the ids")
        entry = entry_row(row)
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
        """Entries (without words) oldest first; `since` inclusive, `until` exclusive; the first `limit`."""
        clauses, params = filters(kind, since, until, table="entries")
        where = "WHERE " + " AND ".join(clauses) if clauses else ""
        sql = f"SELECT {ENTRY_COLUMNS} FROM entries {where} ORDER BY julianday(started_at), id"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [entry_row(r) for r in self.db.query(sql, params)]

    def recent_entries(self, limit: int, kind: str | None = None) -> tuple[list[dict], bool]:
        """The `limit` most recent entries (without words), oldest of them first, and whether there
        are earlier ones; only those rows are read."""
        clauses, params = filters(kind, None, None, table="entries")
        where = "WHERE " + " AND ".join(clauses) if clauses else ""
        sql = f"SELECT {ENTRY_COLUMNS} FROM entries {where} ORDER BY julianday(started_at) DESC, id DESC LIMIT :n"
        rows = [entry_row(r) for r in self.db.query(sql, {**params, "n": limit + 1})]
        return rows[:limit][::-1], len(rows) > limit

    def count_entries(self) -> int:
        """How many entries are stored."""
        return self.db.execute("SELECT count(*) FROM entries").fetchone()[0]

    def search(
        self,
        query: str,
        kind: str | None = None,
        since: Timestamp | date | None = None,
        until: Timestamp | date | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """The best `limit` matches of a full-text search (stemmed) over prompts and answers; see
        `search_page` for the page with how many more match."""
        return self.search_page(query, kind, since, until, limit).results

    def search_page(
        self,
        query: str,
        kind: str | None = None,
        since: Timestamp | date | None = None,
        until: Timestamp | date | None = None,
        limit: int | None = 20,
        every: bool = False,
    ) -> SearchPage:
        """One page of search results, best first (FTS5 rank, newest first among equals), with how
        many other entries match; `every`: all of them (companion.store.search)."""
        return search_page(self.db, query, kind, since, until, limit, every)

    def replace_recording(self, entry_id: int, *, words: Iterable[Word | dict], audio: str | Path, duration: float,
                          ended_at: Timestamp) -> None:
        """An answer that went on (the person spoke again over the next question): its text, words,
        recording and length become those of the whole answer, in one transaction."""
        words = [w if isinstance(w, Word) else Word.from_dict(w) for w in words]
        with self.db.atomic():
            self.db.execute("UPDATE entries SET text = ?, audio = ?, duration = ?, ended_at = ? WHERE id = ?",
                            [join_words(words), self._relative_audio(audio), duration, to_iso(ended_at), entry_id])
            self.db.execute("DELETE FROM words WHERE entry_id = ?", [entry_id])
            rows = [{"entry_id": entry_id, "idx": i, **word_dict(w)} for i, w in enumerate(words)]
            if rows:
                self.db["words"].insert_all(rows)

    def edit_entry(self, entry_id: int, text: str) -> dict:
        """Correct an entry's text; the first original stays in `original_text`. Returns the entry."""
        entry = self.get_entry(entry_id)
        text = text.strip()
        if not text:
            raise StorageError("the corrected text is empty", "to remove an entry, use `companion delete ID`")
        original = entry["original_text"] if entry["original_text"] is not None else entry["text"]
        self.db.execute(
            "UPDATE entries SET text = ?, original_text = ?, edited_at = ? WHERE id = ?",
            [text, original, now_iso(), entry_id],
        )
        return self.get_entry(entry_id)

    def delete_entry(self, entry_id: int) -> dict:
        """Delete one entry, its words, states and audio file; returns what was deleted."""
        entry = self.get_entry(entry_id)
        self.db.execute("PRAGMA secure_delete=ON")
        with self.db.atomic():
            self.db.execute("DELETE FROM entries WHERE id = ?", [entry_id])
        audio = self.audio_path(entry)
        if audio is not None and audio.is_relative_to(self.root):
            audio.unlink(missing_ok=True)
        (self.root / paths.PAGE_NAME).unlink(missing_ok=True)  # it holds the entry too; `companion page` makes it again
        return entry

    def forget_all(self) -> int:
        """Delete every session, sitting, entry and recording, and compact the file; returns entries removed."""
        count = self.db.execute("SELECT count(*) FROM entries").fetchone()[0]
        audio = [self.audio_path(e) for e in self.list_entries()]
        self.db.execute("PRAGMA secure_delete=ON")
        with self.db.atomic():
            for table in ("words", "entry_states", "entries", "reflections", "sessions", "practice_runs"):
                if self.db[table].exists():
                    self.db.execute(f"DELETE FROM {table}")
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no old pages left behind in the WAL either
        for path in audio:
            if path is not None and path.is_relative_to(self.root):
                path.unlink(missing_ok=True)
        audio_root = self.root / "audio"
        if audio_root.is_dir():
            for folder in sorted(audio_root.glob("**/*"), reverse=True):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        (self.root / paths.PAGE_NAME).unlink(missing_ok=True)  # a copy of everything, made by `companion page`
        shutil.rmtree(self.root / paths.VOICE_CACHE, ignore_errors=True)  # spoken phrases of earlier versions held words too
        return count

    def is_empty(self) -> bool:
        """True when nothing at all is stored (no sessions, sittings or entries)."""
        return not any(self.db.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]
                       for t in ("entries", "reflections", "sessions"))


    # Body states

    def set_entry_states(self, entry_id: int, states: Iterable[str]) -> None:
        """Replace the body states named in one entry."""
        with self.db.atomic():
            self.db.execute("DELETE FROM entry_states WHERE entry_id = ?", [entry_id])
            rows = [{"entry_id": entry_id, "state": s} for s in dict.fromkeys(states)]
            if rows:
                self.db["entry_states"].insert_all(rows)

    def entry_states(self, entry_id: int) -> list[str]:
        """The body states of one entry, alphabetically."""
        sql = "SELECT state FROM entry_states WHERE entry_id = ? ORDER BY state"
        return [row[0] for row in self.db.execute(sql, [entry_id])]

    def state_counts(self, since: Timestamp | date | None = None, until: Timestamp | date | None = None) -> list[tuple[str, int]]:
        """How often each body state was named in the period, most named first (the period's
        entries are read first, through the index on their moment)."""
        clauses, params = filters(None, since, until, table="e")
        where = "WHERE " + " AND ".join(clauses) if clauses else ""
        sql = f"""SELECT s.state, count(*) AS n FROM entries e CROSS JOIN entry_states s ON s.entry_id = e.id
                  {where} GROUP BY s.state ORDER BY n DESC, s.state"""
        return [(row["state"], row["n"]) for row in self.db.query(sql, params)]

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
