#!/usr/bin/env python3
"""Storage benchmark: years of entries in a real SQLite store (WAL, FTS5), at several sizes side by side.

For each size (default 10,000 and 100,000 entries, each size in a fresh process): the insert rate, a page
of search results (as `companion search` shows it), the same with filters, `companion list` as shown by
default, opening the store and the review's first line (the first open of a day also makes the
daily backup: timed apart), the database size and the peak memory; then the
previous method beside it (every match ranked and fetched; every entry listed).

    .venv/bin/python scripts/bench_storage.py [--entries 10000,100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from companion.events import Word  # noqa: E402

VOCABULARY = (
    "I felt heard when talked about my sister breath chest tight relief calm tired open grounded "
    "noticed breathing slowly before the meeting shoulders softer work home sleep morning evening "
    "sadness anger warmth lighter heavy restless quiet walk kitchen friend mother father child"
).split()
QUERIES = ["breathing", "sister", "chest relief", "noticed shoulders", "sleep", "meeting", "warmth", "walk home"]
ROUNDS = 5
YEARS = 10
SESSION_EVERY_DAYS = 14
PAGE = 22  # what `companion search` and `companion list` show by default on a 24-line screen


def sentence(rng: random.Random, n: int) -> list[Word]:
    words, t = [], 0.0
    for _ in range(n):
        w = rng.choice(VOCABULARY)
        words.append(Word(w, t, t + 0.3, 0.9))
        t += 0.35
    return words


def moments(entries: int, now: datetime) -> list[str]:
    """`entries` moments spread evenly over the last ten years, in order, with summer and winter offsets."""
    start, step = now - timedelta(days=365.25 * YEARS), timedelta(days=365.25 * YEARS) / entries
    out = []
    for i in range(entries):
        moment = start + step * i
        offset = "+02:00" if 4 <= moment.month <= 10 else "+01:00"
        out.append(moment.strftime("%Y-%m-%dT%H:%M:%S") + offset)
    return out


def timed(action, rounds: int = ROUNDS) -> list[float]:
    timings = []
    for _ in range(rounds):
        for query in QUERIES:
            t0 = time.perf_counter()
            action(query)
            timings.append(time.perf_counter() - t0)
    return timings


def previous_search(store, query: str, limit: int = 50) -> list[dict]:
    """The search as it was: every match ranked, joined and given snippets, the first 50 fetched."""
    from companion.store.queries import fts_query

    sql = """SELECT e.*, snippet(entries_fts, 1, '[', ']', '…', 12) AS text_snippet,
                    snippet(entries_fts, -1, '[', ']', '…', 12) AS best_snippet
             FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
             WHERE entries_fts MATCH :match ORDER BY entries_fts.rank, e.id LIMIT :limit"""
    return list(store.db.query(sql, {"match": fts_query(query), "limit": limit}))


def run(entries: int) -> dict:
    from companion.review.digest import gather, review_items
    from companion.review.present import entry_line, search_line
    from companion.store.database import Store

    rng = random.Random(7)
    now = datetime.now().astimezone().replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPANION_HOME"] = tmp
        path = Path(tmp) / "companion.db"
        store = Store.open(path)
        with store.db.atomic():  # a session every two weeks, the last a few days ago
            held = now - timedelta(days=365.25 * YEARS)
            while held < now - timedelta(days=3):
                store.add_session(held_at=held)
                held += timedelta(days=SESSION_EVERY_DAYS)
        started = time.perf_counter()
        for at in moments(entries, now):
            words = sentence(rng, rng.randint(8, 40))
            kind = rng.choice(["reflection", "ripple", "checkin"])
            entry = store.add_entry(kind, " ".join(w.word for w in words), prompt="What felt important today?",
                                    words=words, duration=words[-1].end, started_at=at)
            if kind == "checkin":
                store.set_entry_states(entry, rng.sample(["calm", "tight", "warm", "heavy", "restless"], 2))
        insert_seconds = time.perf_counter() - started
        store.close()

        def first_review_line() -> tuple[float, list[dict], str]:
            """Open the store and make the review's first line, as `companion review --print` does."""
            t0 = time.perf_counter()
            with Store.open(path, reading=True) as opened:
                digest, period = gather(opened)
                line = review_items(digest, period)[0].shown
            return time.perf_counter() - t0, period, line

        first_of_day_seconds, _, _ = first_review_line()  # this one also makes the day's automatic backup
        opens = [first_review_line() for _ in range(5)]
        review_seconds, period, first_line = sorted(opens, key=lambda o: o[0])[len(opens) // 2]
        review_worst_seconds = max(o[0] for o in opens)
        store = Store.open(path, reading=True)

        hits = []
        page = timed(lambda q: hits.append([search_line(r) for r in store.search_page(q, limit=PAGE).results]))
        year_ago = (now - timedelta(days=365)).isoformat()
        filtered = timed(lambda q: [search_line(r) for r in
                                    store.search_page(q, kind="reflection", since=year_ago, limit=PAGE).results])
        listed = []
        list_default = timed(lambda _: listed.append([entry_line(e) for e in store.recent_entries(PAGE)[0]]), 1)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        previous = timed(lambda q: [search_line(dict(r, snippet=r["text_snippet"])) for r in previous_search(store, q)])
        t0 = time.perf_counter()
        every = [entry_line(e) for e in store.list_entries()]
        list_all_seconds = time.perf_counter() - t0
        size = path.stat().st_size
        store.close()
    ms = 1000
    return {
        "entries": entries,
        "insert_per_second": entries / insert_seconds,
        "search_median_ms": statistics.median(page) * ms,
        "search_worst_ms": max(page) * ms,
        "search_page": PAGE,
        "search_queries": len(page),
        "search_shown": sum(map(len, hits)),
        "search_filtered_median_ms": statistics.median(filtered) * ms,
        "search_filtered_worst_ms": max(filtered) * ms,
        "list_default_ms": statistics.median(list_default) * ms,
        "list_default_worst_ms": max(list_default) * ms,
        "listed_default": len(listed[-1]),
        "review_first_line_ms": review_seconds * ms,
        "review_first_line_worst_ms": review_worst_seconds * ms,
        "review_first_of_day_ms": first_of_day_seconds * ms,
        "review_period_entries": len(period),
        "review_first_line": first_line,
        "db_mb": size / 1e6,
        "peak_mb": peak,
        "previous_search_median_ms": statistics.median(previous) * ms,
        "previous_search_worst_ms": max(previous) * ms,
        "previous_list_all_ms": list_all_seconds * ms,
        "listed_all": len(every),
        "peak_with_previous_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_sizes(sizes: list[int]) -> dict:
    """Each size in a fresh process, so that each peak memory is its own."""
    results = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--entries", str(n), "--json"], capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(f"the benchmark at {n} entries failed")
        results.append(json.loads(out.stdout))
    return {"sizes": results, **results[-1]}  # the largest size's figures also at the top


def show(d: dict) -> None:
    n = d["entries"]
    print(f"== {n:,} entries over {YEARS} years (a session every {SESSION_EVERY_DAYS} days)")
    print(f"insert rate               {d['insert_per_second']:.0f} entries/s (each with its words, one transaction each)")
    print(f"search, a page of {d['search_page']}      median {d['search_median_ms']:.1f} ms, worst {d['search_worst_ms']:.1f} ms "
          f"over {d['search_queries']} queries (previous method: median {d['previous_search_median_ms']:.1f} ms, "
          f"worst {d['previous_search_worst_ms']:.1f} ms)")
    print(f"search --kind --since     median {d['search_filtered_median_ms']:.1f} ms, worst {d['search_filtered_worst_ms']:.1f} ms (the last year)")
    print(f"list (default)            {d['list_default_ms']:.1f} ms for {d['listed_default']} entries "
          f"(previous: every entry, {d['previous_list_all_ms']:.0f} ms)")
    print(f"open + first review line  median {d['review_first_line_ms']:.0f} ms, worst {d['review_first_line_worst_ms']:.0f} ms "
          f"of 5 ({d['review_period_entries']} entries since the last session); the first of the day, which also "
          f"makes the daily backup, {d['review_first_of_day_ms']:.0f} ms")
    print(f"database size             {d['db_mb']:.1f} MB")
    print(f"peak memory               {d['peak_mb']:.0f} MB ({d['peak_with_previous_mb']:.0f} MB after the previous methods)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", default="10000,100000", help="sizes, comma-separated (default: 10000,100000)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.entries.split(",") if n.strip()]
    result = run(sizes[0]) if len(sizes) == 1 else run_sizes(sizes)
    if args.json:
        print(json.dumps(result))
        return
    for d in result.get("sizes", [result]):
        show(d)


if __name__ == "__main__":
    main()
