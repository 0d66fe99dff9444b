"""Years of entries: every query that list, search, show, review and the exports run reads through an
index (checked with EXPLAIN QUERY PLAN), search pages rank and count correctly, and periods stay exact
for stored local times with different offsets. Real SQLite files in tmp_path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from companion.review.digest import gather
from companion.review.export import export_markdown
from companion.store import migrations, search
from companion.store.database import Store
from companion.store.sessions import since_last_session

LARGE_TABLES = ("entries", "e", "words", "w", "entry_states", "s")  # as named in the queries
FULL_SCAN = re.compile(rf"^SCAN ({'|'.join(LARGE_TABLES)})\b(?! VIRTUAL)")
ORDERED_SCAN = re.compile(rf"^SCAN ({'|'.join(LARGE_TABLES)}) USING (COVERING )?INDEX")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def fill(store: Store, days: int = 120, per_day: int = 3) -> None:
    """A few months of entries, sessions every two weeks, body states and a practice now and then."""
    start = datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    with store.db.atomic():
        for day in range(days):
            moment = start + timedelta(days=day)
            if day % 14 == 0:
                store.add_session(held_at=moment + timedelta(hours=9))
            for n in range(per_day):
                kind = ("reflection", "ripple", "checkin")[n % 3]
                text = f"day {day} breathing slowly near the window" if day % 5 == 0 else f"day {day} a quiet walk"
                entry = store.add_entry(kind, text, prompt="What stayed with you?", started_at=moment + timedelta(hours=n),
                                        words=[{"word": w, "start": i * 0.4, "end": i * 0.4 + 0.3, "conf": 0.9}
                                               for i, w in enumerate(text.split())])
                if kind == "checkin":
                    store.set_entry_states(entry, ["warm", "tight"] if day % 2 else ["calm"])
            if day % 10 == 0:
                store.db["practice_runs"].insert({"practice": "resonance", "title": "Resonance breathing",
                                                  "started_at": moment.isoformat(), "outcome": "finished"})


def traced(store: Store, action) -> list[str]:
    """Every statement `action(store)` runs that reads the store's tables, with its values filled in."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        action(store)
    finally:
        store.db.conn.set_trace_callback(None)
    return [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))
            and re.search(r"\b(entries|words|entry_states|sessions|practice_runs|reflections)\b", s)]


def full_scans(store: Store, sql: str) -> list[str]:
    """The plan's steps that read a large table whole. Walking an index in order is bounded when the
    query has a LIMIT and needs no sort of its own: it stops after those rows."""
    plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql)]
    stops_early = re.search(r"\bLIMIT\s+\d+\s*$", sql.strip()) and not any("TEMP B-TREE" in step for step in plan)
    return [step for step in plan if FULL_SCAN.match(step) and not (stops_early and ORDERED_SCAN.match(step))]


COMMAND_QUERIES = {
    "list (default)": lambda s: s.recent_entries(20),
    "list --kind": lambda s: s.recent_entries(20, kind="ripple"),
    "show": lambda s: s.get_entry(5),
    "search": lambda s: s.search_page("breathing", limit=20),
    "search --kind --since --until": lambda s: s.search_page("walk", kind="ripple", since="2026-02-01", until="2026-03-01"),
    "review (digest, since the last session)": lambda s: gather(s),
    "review --since": lambda s: gather(s, "2026-04-01T00:00:00+01:00"),
    "export --since": lambda s: export_markdown(s, since="2026-04-01T00:00:00+01:00"),
    "last session": lambda s: since_last_session(s),
    "session of a day": lambda s: s.session_on_day(date(2026, 1, 15)),
    "state counts": lambda s: s.state_counts(since="2026-04-01"),
}


@pytest.mark.parametrize("name", list(COMMAND_QUERIES))
def test_bounded_queries_read_through_indexes(home, name):
    with Store.open() as store:
        fill(store)
        statements = traced(store, COMMAND_QUERIES[name])
        assert statements, f"{name} ran no query on the store's tables"
        scans = {sql: full_scans(store, sql) for sql in statements}
    assert not any(scans.values()), {sql: steps for sql, steps in scans.items() if steps}


def test_an_older_store_gets_the_indexes_and_keeps_its_entries(home):
    home.mkdir(mode=0o700)
    db_path = home / "companion.db"
    with Store.open(db_path) as store:
        store.add_entry("ripple", "kept from before", started_at="2025-06-01T09:00:00+02:00")
        store.db.execute("DROP INDEX entries_moment")  # as it was before the moment indexes
        store.db.execute("DROP INDEX entries_kind_moment")
        store.db.execute("CREATE INDEX entries_kind ON entries(kind)")
        for name in ("entries_session_id", "sessions_moment", "reflections_moment", "practice_runs_moment"):
            store.db.execute(f"DROP INDEX {name}")
        store.db.execute("DELETE FROM _migrations WHERE id = 4")
    with Store.open(db_path) as store:
        assert 4 in migrations.applied(store.db)
        indexes = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"entries_moment", "entries_kind_moment", "sessions_moment", "practice_runs_moment"} <= indexes
        assert [e["text"] for e in store.recent_entries(5)[0]] == ["kept from before"]


def test_an_older_store_on_a_read_only_filesystem_is_still_read_without_the_indexes(home):
    home.mkdir(mode=0o700)
    db_path = home / "companion.db"
    with Store.open(db_path) as store:
        store.add_entry("ripple", "a walk by the water", started_at="2025-06-01T09:00:00+02:00")
        for name in ("entries_moment", "entries_kind_moment", "entries_session_id", "sessions_moment",
                     "reflections_moment", "practice_runs_moment"):
            store.db.execute(f"DROP INDEX {name}")
        store.db.execute("DELETE FROM _migrations WHERE id = 4")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with Store._open_read_only(db_path) as store:  # as opened where the folder cannot be written
        assert store.read_only and 4 not in migrations.applied(store.db)
        assert [e["text"] for e in store.recent_entries(5)[0]] == ["a walk by the water"]
        assert [r["id"] for r in store.search_page("walk").results] == [1]


def test_periods_and_order_follow_the_instant_across_offsets(home):
    with Store.open() as store:
        late_in_tokyo = store.add_entry("ripple", "a", started_at="2026-03-01T08:30:00+09:00")  # 23:30 UTC the day before
        early_in_london = store.add_entry("ripple", "b", started_at="2026-02-28T23:45:00+00:00")
        evening_in_new_york = store.add_entry("ripple", "c", started_at="2026-02-28T19:00:00-05:00")  # 00:00 UTC
        in_order = [late_in_tokyo, early_in_london, evening_in_new_york]
        assert [e["id"] for e in store.list_entries()] == in_order
        assert [e["id"] for e in store.recent_entries(2)[0]] == in_order[1:]
        assert [e["id"] for e in store.list_entries(since="2026-02-28T23:40:00+00:00")] == in_order[1:]
        assert [e["id"] for e in store.list_entries(until="2026-03-01T00:50:00+01:00")] == in_order[:2]
        assert [e["id"] for e in store.list_entries(since="2026-02-28T23:50:00Z")] == [evening_in_new_york]


def test_recent_entries_reads_the_last_ones_and_says_if_there_are_earlier(home):
    with Store.open() as store:
        ids = [store.add_entry("ripple" if i % 2 else "checkin", f"note {i}", started_at=f"2026-05-{i + 1:02d}T10:00:00+02:00")
               for i in range(10)]
        entries, earlier = store.recent_entries(3)
        assert [e["id"] for e in entries] == ids[-3:] and earlier
        entries, earlier = store.recent_entries(10)
        assert [e["id"] for e in entries] == ids and not earlier
        assert [e["text"] for e in store.recent_entries(2, kind="ripple")[0]] == ["note 7", "note 9"]


def test_search_ranks_best_first_and_newest_among_equals(home):
    with Store.open() as store:
        once = store.add_entry("ripple", "a long walk by the river with the dog and the wind", started_at="2026-01-02T10:00:00+01:00")
        often = store.add_entry("ripple", "walk walk walk", started_at="2026-01-01T10:00:00+01:00")
        same_old = store.add_entry("ripple", "evening walk", started_at="2026-01-03T10:00:00+01:00")
        same_new = store.add_entry("ripple", "evening walk", started_at="2026-01-04T10:00:00+01:00")
        page = store.search_page("walk", limit=3)
        assert [r["id"] for r in page.results] == [often, same_new, same_old]
        assert page.more == 1 and page.matched == 4 and page.counted_all
        assert [r["id"] for r in store.search_page("walk", every=True).results] == [often, same_new, same_old, once]
        assert store.search_page("walk", limit=10).more == 0


def test_search_filters_apply_inside_the_query_and_count(home):
    with Store.open() as store:
        fill(store, days=60)
        page = store.search_page("breathing", kind="checkin", since="2026-01-10", until="2026-01-31", limit=2)
        assert [r["started_at"][:10] for r in page.results] == ["2026-01-31", "2026-01-26"]  # the whole last day
        assert all(r["kind"] == "checkin" for r in page.results)
        assert page.matched == 5 and page.more == 3  # the 11th, 16th, 21st, 26th and 31st
        assert store.search_page("breathing", since="2027-01-01").results == []


def test_many_matches_rank_among_the_most_recent_and_count_up_to_a_bound(home, monkeypatch):
    monkeypatch.setattr(search, "RANKED_AT_MOST", 5)
    monkeypatch.setattr(search, "COUNTED_AT_MOST", 8)
    with Store.open() as store:
        ids = [store.add_entry("ripple", "walk " * (3 if i == 0 else 1), started_at=f"2026-02-{i + 1:02d}T10:00:00+01:00")
               for i in range(12)]
        page = store.search_page("walk", limit=3)
        assert [r["id"] for r in page.results] == ids[-1:-4:-1]  # the oldest (best) is beyond the newest five
        assert not page.counted_all and page.matched == 8
        everything = store.search_page("walk", every=True)
        assert everything.results[0]["id"] == ids[0] and len(everything.results) == 12 and everything.more == 0


def companion(*args: str, lines: int = 12) -> subprocess.CompletedProcess:
    env = dict(os.environ, LINES=str(lines), COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env, capture_output=True, text=True, timeout=120)


def test_list_and_search_show_a_screen_and_say_what_is_left(home):
    with Store.open() as store:
        fill(store, days=40, per_day=1)
    listed = companion("list").stdout.splitlines()
    assert len(listed) == 11 and listed[-1].startswith("(The most recent 10.")
    assert "#40 " in listed[-2] and "#31 " in listed[0]
    assert len(companion("list", "--all").stdout.splitlines()) == 40
    assert len(companion("list", "--limit", "3").stdout.splitlines()) == 4
    found = companion("search", "breathing", "--limit", "3").stdout.splitlines()
    assert len(found) == 4 and found[-1].startswith("(5 more found."), found
    assert len(companion("search", "breathing", "--all").stdout.splitlines()) == 8
    both = companion("search", "breathing", "--all", "--limit", "2")
    assert both.returncode != 0 and "choose either --limit or --all" in both.stderr and "Traceback" not in both.stderr

