"""The storage layer on real SQLite files in tmp_path."""

from __future__ import annotations

import json
import os
import stat
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from companion.errors import StorageError
from companion.events import Word
from companion.review.export import export_json, export_markdown
from companion.store import migrations
from companion.store.database import Store
from companion.store.queries import now_iso, to_iso
from companion.store.restore import restore_export


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def store(home):
    with Store.open() as s:
        yield s


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_open_uses_companion_home_with_private_modes(store, home):
    assert store.path == home / "companion.db"
    store.add_entry("ripple", "a small thing")  # make sure -wal and -shm exist
    assert mode(home) == 0o700
    assert mode(store.path) == 0o600
    for suffix in ("-wal", "-shm"):
        assert mode(home / f"companion.db{suffix}") == 0o600


def test_pragmas(store):
    assert store.db.journal_mode == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_migrations_recorded_and_applied_once(home):
    with Store.open() as s:
        rows = list(s.db.query("SELECT id, name, applied_at FROM _migrations"))
        assert [r["id"] for r in rows] == [n for n, _, _ in migrations.MIGRATIONS]
        assert all(r["applied_at"] for r in rows)
        assert {"sessions", "reflections", "entries", "words", "entries_fts"} <= set(s.db.table_names())
        s.add_entry("checkin", "still here")
    with Store.open() as s:
        assert migrations.migrate(s.db) == []
        assert s.db["_migrations"].count == len(migrations.MIGRATIONS)
        assert [e["text"] for e in s.list_entries()] == ["still here"]


def test_a_new_migration_is_appended_and_applied_once(store):
    calls = []

    def add_mood(db):
        calls.append(1)
        db.execute("ALTER TABLE entries ADD COLUMN mood TEXT")

    extended = [*migrations.MIGRATIONS, (99, "mood", add_mood)]
    assert migrations.migrate(store.db, extended) == [99]
    assert migrations.migrate(store.db, extended) == []
    assert calls == [1]
    assert "mood" in store.db["entries"].columns_dict


def test_failed_migration_is_rolled_back(store):
    def broken(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        migrations.migrate(store.db, [*migrations.MIGRATIONS, (99, "broken", broken)])
    assert not store.db["half"].exists()
    assert 99 not in migrations.applied(store.db)


def test_corrupt_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "companion.db"
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    with pytest.raises(StorageError) as info:
        Store.open(path)
    assert str(path) in info.value.message
    assert info.value.hint
    assert "\n" not in str(info.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["companion.db"]


def test_corrupt_database_with_sqlite_header_is_left_untouched(tmp_path):
    path = tmp_path / "companion.db"
    garbage = b"SQLite format 3\x00" + os.urandom(4096)
    path.write_bytes(garbage)
    with pytest.raises(StorageError):
        Store.open(path)
    assert path.read_bytes() == garbage


def test_data_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StorageError) as info:
        Store.open(tmp_path / "a-file" / "companion.db")
    assert "COMPANION_HOME" in info.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(StorageError):
            Store.open(locked / "data" / "companion.db")
    finally:
        locked.chmod(0o700)


def test_entry_round_trip_with_words(store):
    words = [Word("i", 0.0, 0.2, 0.9), Word("noticed", 0.2, 0.71234, 0.8)]
    session = store.add_session("2024-05-02T18:00:00+02:00", note="weekly")
    sitting = store.start_reflection(session, "vosk", "small-en")
    entry_id = store.add_entry(
        "reflection", "I noticed", prompt="What did you notice?", words=words,
        audio="audio/2024/a.wav", started_at="2024-05-03T09:00:00+02:00", ended_at="2024-05-03T09:00:04+02:00",
        duration=4.0, engine="vosk", model="small-en", reflection_id=sitting, session_id=session,
        extra={"lang": "en"},
    )  # fmt: skip
    store.finish_reflection(sitting, "2024-05-03T09:05:00+02:00")

    entry = store.get_entry(entry_id)
    assert entry["kind"] == "reflection"
    assert entry["prompt"] == "What did you notice?"
    assert entry["text"] == "I noticed"
    assert datetime.fromisoformat(entry["started_at"]) == datetime(2024, 5, 3, 7, tzinfo=timezone.utc)
    assert entry["duration"] == 4.0
    assert entry["extra"] == {"lang": "en"}
    assert entry["words"] == [w.to_dict() for w in words]
    assert store.audio_path(entry) == store.path.parent / "audio/2024/a.wav"
    assert store.get_reflection(sitting)["ended_at"] is not None


def test_absolute_audio_inside_data_dir_is_stored_relative(store):
    entry_id = store.add_entry("ripple", "hm", audio=store.path.parent / "audio" / "x.wav")
    entry = store.get_entry(entry_id)
    assert entry["audio"] == "audio/x.wav"
    assert store.audio_path(entry).is_absolute()
    assert store.audio_path(store.get_entry(store.add_entry("ripple", "no audio"))) is None


def test_words_are_saved_in_the_same_transaction(store):
    with pytest.raises(Exception):
        store.add_entry("ripple", "x", words=[Word("a", 0, 1, 1), {"word": "b"}])  # second word is malformed
    assert store.list_entries() == []
    assert store.db["words"].count == 0


def test_unknown_entry(store):
    with pytest.raises(StorageError) as info:
        store.get_entry(42)
    assert info.value.message == "no entry with id 42"
    assert "companion list" in info.value.hint


def test_kind_is_checked(store):
    with pytest.raises(ValueError):
        store.add_entry("diary", "x")
    with pytest.raises(Exception):
        store.db.execute("INSERT INTO entries (kind, text, started_at, created_at) VALUES ('diary', 'x', 'now', 'now')")


def test_deleting_an_entry_deletes_its_words(store):
    entry_id = store.add_entry("ripple", "a b", words=[Word("a", 0, 1, 1), Word("b", 1, 2, 1)])
    store.db.execute("DELETE FROM entries WHERE id = ?", [entry_id])
    assert store.db["words"].count == 0


def test_list_entries_filters_and_order(store):
    base = datetime(2024, 5, 1, 12, 0).astimezone()
    store.add_entry("ripple", "third", started_at=base + timedelta(days=2))
    store.add_entry("checkin", "first", started_at=base)
    store.add_entry("ripple", "second", started_at=base + timedelta(days=1))

    assert [e["text"] for e in store.list_entries()] == ["first", "second", "third"]
    assert [e["text"] for e in store.list_entries(kind="ripple")] == ["second", "third"]
    assert [e["text"] for e in store.list_entries(since=base + timedelta(days=1))] == ["second", "third"]
    assert [e["text"] for e in store.list_entries(since=date(2024, 5, 2))] == ["second", "third"]
    assert [e["text"] for e in store.list_entries(until=date(2024, 5, 2))] == ["first", "second"]
    assert [e["text"] for e in store.list_entries(until="2024-05-02")] == ["first", "second"]
    assert [e["text"] for e in store.list_entries(limit=1)] == ["first"]
    assert "words" not in store.list_entries()[0]


def test_since_compares_instants_across_offsets(store):
    store.add_entry("ripple", "late", started_at="2024-05-01T23:30:00+00:00")
    # 01:00 at +02:00 is 23:00 UTC, so the entry is after it even though the text sorts before.
    assert [e["text"] for e in store.list_entries(since="2024-05-02T01:00:00+02:00")] == ["late"]
    assert store.list_entries(since="2024-05-02T02:00:00+02:00") == []


def test_sessions(store):
    first = store.add_session("2024-05-01T18:00:00")
    second = store.add_session(datetime(2024, 5, 8, 18, 0), note="after holiday", source="auto")
    assert store.last_session()["id"] == second
    assert store.last_session(before="2024-05-08T00:00:00")["id"] == first
    assert store.last_session(before="2024-05-01T00:00:00") is None
    assert store.session_on_day(date(2024, 5, 8))["note"] == "after holiday"
    assert store.session_on_day(date(2024, 5, 9)) is None
    assert store.add_session() > second
    with pytest.raises(Exception):
        store.add_session(source="guess")


def test_search_is_stemmed_with_snippets(store):
    # SQLite's porter stemmer maps breathing/breathed/breaths to "breath", noticing/noticed to "notic".
    store.add_entry("ripple", "On the bus I breathed slowly and it helped")
    store.add_entry("reflection", "I kept noticing my shoulders", prompt="What did you notice?")
    store.add_entry("checkin", "I slept badly")

    hits = store.search("breathing")
    assert [h["text"] for h in hits] == ["On the bus I breathed slowly and it helped"]
    assert "[breathed]" in hits[0]["snippet"]

    hits = store.search("noticed")
    assert len(hits) == 1 and "[noticing]" in hits[0]["snippet"]  # the answer's words, not the prompt's
    assert store.search("noticed", kind="ripple") == []

    # Porter does not know irregular forms: "sleeping" is not "slept".
    assert store.search("sleeping") == []
    assert len(store.search("slept")) == 1


def test_search_filters_by_time(store):
    store.add_entry("ripple", "calm morning", started_at="2024-05-01T08:00:00+00:00")
    store.add_entry("ripple", "calm evening", started_at="2024-05-03T20:00:00+00:00")
    assert [h["text"] for h in store.search("calm", since="2024-05-02T00:00:00+00:00")] == ["calm evening"]
    assert [h["text"] for h in store.search("calm", until="2024-05-02T00:00:00+00:00")] == ["calm morning"]
    assert len(store.search("calm", limit=1)) == 1


@pytest.mark.parametrize("query", ['"unbalanced', "AND", "NOT", "a OR", "NEAR(a b)", "(", "-", "*", "col:x", "what's"])
def test_search_never_crashes_on_fts_syntax(store, query):
    store.add_entry("ripple", "and not near or what")
    assert isinstance(store.search(query), list)


def test_search_empty_query(store):
    store.add_entry("ripple", "anything")
    assert store.search("   ") == []


def test_updates_keep_the_index_in_sync(store):
    entry_id = store.add_entry("ripple", "I felt tense")
    store.db.execute("UPDATE entries SET original_text = text, text = 'I felt relaxed' WHERE id = ?", [entry_id])
    assert store.search("tense") == []
    assert len(store.search("relaxed")) == 1


def test_timestamps_have_offsets():
    assert datetime.fromisoformat(now_iso()).tzinfo is not None
    assert datetime.fromisoformat(to_iso("2024-05-01T10:00:00")).tzinfo is not None
    assert to_iso(None) is None


def _fill(store: Store) -> None:
    session = store.add_session("2024-04-30T17:00:00")
    sitting = store.start_reflection(session, "vosk", "small-en", started_at="2024-05-02T19:04:00")
    store.add_entry(
        "reflection", "That I was allowed to rest.", prompt="What stayed with you?",
        words=[Word("that", 0.0, 0.3, 0.95)], audio="audio/r1.wav",
        started_at="2024-05-02T19:04:10", reflection_id=sitting, session_id=session,
    )  # fmt: skip
    store.add_entry(
        "reflection", "", prompt="Anything you want to bring next time?",
        started_at="2024-05-02T19:06:00", reflection_id=sitting, session_id=session,
    )  # fmt: skip
    store.finish_reflection(sitting, "2024-05-02T19:08:00")
    store.add_entry("ripple", "Noticed my breath on the stairs.", started_at="2024-05-03T08:15:00")
    store.add_entry("checkin", "Tired but okay.", started_at="2024-05-04T21:00:00")


def test_export_json_shape(store):
    _fill(store)
    data = export_json(store)
    assert set(data) == {"entries", "sessions", "reflections", "practice_runs", "format", "version"}
    assert data["format"] == "companion-export" and data["version"] == 1
    assert len(data["entries"]) == 4 and len(data["sessions"]) == 1 and len(data["reflections"]) == 1
    first = data["entries"][0]
    # the original keys keep their meaning; the rest make the export complete for `import-json`
    assert set(first) == {
        "id", "kind", "prompt", "text", "started_at", "ended_at", "audio", "engine", "model",
        "duration", "reflection_id", "session_id", "words",
        "original_text", "edited_at", "created_at", "extra", "states",
    }  # fmt: skip
    assert first["audio"] == str(store.path.parent / "audio" / "r1.wav")
    assert first["words"] == [{"word": "that", "start": 0.0, "end": 0.3, "conf": 0.95}]
    assert data["entries"][2]["audio"] is None
    json.dumps(data)  # serialisable as is


def test_export_markdown(store):
    _fill(store)
    text = export_markdown(store)
    assert text.startswith("# Companion — what I said\n")
    assert "**What stayed with you?**\n\nThat I was allowed to rest." in text
    assert "**Anything you want to bring next time?**\n\n_(no answer)_" in text
    # grouped by session, then by week, in time order
    assert "## Since the session on Tuesday 30 April 2024" in text
    assert "### Week of Monday 29 April 2024" in text
    assert "— ripple\n\nNoticed my breath on the stairs." in text
    assert "— check-in\n\nTired but okay." in text
    assert text.index("What stayed with you?") < text.index("Noticed my breath") < text.index("Tired but okay")


def test_export_markdown_empty(store):
    assert "Nothing recorded yet" in export_markdown(store)


def test_migration_3_adds_body_states_and_edits(store):
    assert 3 in migrations.applied(store.db)
    assert "edited_at" in store.db["entries"].columns_dict and store.db["entry_states"].exists()


def test_edit_keeps_the_first_original(store):
    entry_id = store.add_entry("ripple", "I felt heart")
    store.edit_entry(entry_id, "I felt hurt")
    edited = store.edit_entry(entry_id, "I felt heard")
    assert edited["text"] == "I felt heard" and edited["original_text"] == "I felt heart" and edited["edited_at"]
    assert [r["id"] for r in store.search("heard")] == [entry_id]  # the index follows the correction
    with pytest.raises(StorageError, match="empty"):
        store.edit_entry(entry_id, " ")
    assert store.get_entry(entry_id)["text"] == "I felt heard"


def test_delete_removes_words_states_and_audio(store, home):
    audio = home / "audio" / "2026-01" / "checkin.wav"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(b"RIFF....")
    entry_id = store.add_entry("checkin", "tired", words=[Word("tired", 0, 0.5, 0.9)], audio=audio)
    store.set_entry_states(entry_id, ["tired"])
    other = store.add_entry("ripple", "stays")
    store.delete_entry(entry_id)
    assert not audio.exists()
    assert store.db.execute("SELECT count(*) FROM words").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM entry_states").fetchone()[0] == 0
    assert [e["id"] for e in store.list_entries()] == [other]
    with pytest.raises(StorageError):
        store.delete_entry(entry_id)


def test_state_counts_most_named_first(store):
    for text, states, at in (("a", ["tired", "calm"], "2026-01-02T10:00:00"), ("b", ["tired"], "2026-01-03T10:00:00"),
                             ("c", ["heavy"], "2025-12-01T10:00:00")):
        store.set_entry_states(store.add_entry("checkin", text, started_at=at), states)
    assert store.state_counts(since=date(2026, 1, 1)) == [("tired", 2), ("calm", 1)]
    assert store.state_counts()[0] == ("tired", 2) and len(store.state_counts()) == 3


def test_forget_all_leaves_nothing(store, home):
    _fill(store)
    audio = home / "audio" / "r1.wav"
    audio.parent.mkdir(parents=True, exist_ok=True)
    audio.write_bytes(b"RIFF")
    assert store.forget_all() == 4
    assert store.is_empty() and not audio.exists()
    for suffix in ("", "-wal"):
        path = store.path.with_name(store.path.name + suffix)
        assert not path.exists() or b"allowed to rest" not in path.read_bytes()


def test_restore_refuses_a_store_with_data(store):
    _fill(store)
    data = export_json(store)
    with pytest.raises(StorageError, match="empty data folder"):
        restore_export(store, data)
