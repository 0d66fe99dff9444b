"""`companion backup`: a consistent, private copy made with SQLite's backup API while another
process keeps writing."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time

from companion.store.database import Store

WRITER = """
import sys, time
from companion.store.database import Store
store = Store.open()
deadline = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < deadline:
    store.add_entry("ripple", f"a small shift number {n}", words=[])
    n += 1
print(n)
"""


def test_backup_while_another_process_writes(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", "I took a deeper breath before the meeting")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    copies = []
    for i in range(3):
        dest = companion_home / f"copy-{i}.db"
        result = subprocess.run([sys.executable, "-m", "companion", "backup", str(dest)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        copies.append(dest)
        time.sleep(0.5)
    written = int(writer.communicate(timeout=30)[0])
    assert written > 50
    counts = []
    for dest in copies:
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600
        with sqlite3.connect(dest) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            counts.append(db.execute("SELECT count(*) FROM entries").fetchone()[0])
            ids = [r[0] for r in db.execute("SELECT id FROM entries ORDER BY id")]
            assert ids == list(range(1, len(ids) + 1)), "a snapshot, never a torn copy"
    assert counts == sorted(counts) and counts[0] >= 1
    with Store.open() as store:
        assert len(store.list_entries()) == written + 1


def test_default_backup_location(companion_home):
    with Store.open() as store:
        store.add_entry("ripple", "a walk at lunch")
    result = subprocess.run([sys.executable, "-m", "companion", "backup"], capture_output=True, text=True)
    assert result.returncode == 0
    [made] = list((companion_home / "backups").glob("companion-*.db"))
    assert str(made) in result.stdout and stat.S_IMODE(os.stat(made.parent).st_mode) == 0o700


def test_backup_with_no_database(companion_home):
    result = subprocess.run([sys.executable, "-m", "companion", "backup", str(companion_home / "x.db")], capture_output=True, text=True)
    assert result.returncode == 5 and result.stderr.startswith("Error: there is no database") and "Traceback" not in result.stderr
