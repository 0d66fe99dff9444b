#!/usr/bin/env python3
"""Storage benchmark: insert rate and full-text search over 10,000 entries (real SQLite, WAL, FTS).

    .venv/bin/python scripts/bench_storage.py [--entries 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from companion.events import Word  # noqa: E402
from companion.store.database import Store  # noqa: E402

VOCABULARY = (
    "I felt heard when talked about my sister breath chest tight relief calm tired open grounded "
    "noticed breathing slowly before the meeting shoulders softer work home sleep morning evening "
    "sadness anger warmth lighter heavy restless quiet walk kitchen friend mother father child"
).split()
QUERIES = ["breathing", "sister", "chest relief", "noticed shoulders", "sleep", "meeting", "warmth", "walk home"]


def sentence(rng: random.Random, n: int) -> list[Word]:
    words, t = [], 0.0
    for _ in range(n):
        w = rng.choice(VOCABULARY)
        words.append(Word(w, t, t + 0.3, 0.9))
        t += 0.35
    return words


def run(entries: int) -> dict:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPANION_HOME"] = tmp
        store = Store.open(Path(tmp) / "companion.db")
        started = time.perf_counter()
        for i in range(entries):
            words = sentence(rng, rng.randint(8, 40))
            store.add_entry(rng.choice(["reflection", "ripple", "checkin"]), " ".join(w.word for w in words),
                            prompt="What felt important today?", words=words, duration=words[-1].end,
                            started_at=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00")
        insert_seconds = time.perf_counter() - started
        timings = []
        hits = 0
        for _ in range(5):
            for q in QUERIES:
                t0 = time.perf_counter()
                hits += len(store.search(q, limit=50))
                timings.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        listed = len(store.list_entries())
        list_seconds = time.perf_counter() - t0
        size = (Path(tmp) / "companion.db").stat().st_size
        store.close()
    return {
        "entries": entries,
        "insert_per_second": entries / insert_seconds,
        "search_median_ms": statistics.median(timings) * 1000,
        "search_worst_ms": max(timings) * 1000,
        "search_hits": hits,
        "list_all_ms": list_seconds * 1000,
        "listed": listed,
        "db_mb": size / 1e6,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.entries)
    if args.json:
        print(json.dumps(result))
        return
    print(f"entries stored            {result['entries']}")
    print(f"insert rate               {result['insert_per_second']:.0f} entries/s (each with its words, one transaction each)")
    print(f"search (FTS, porter)      median {result['search_median_ms']:.1f} ms, worst {result['search_worst_ms']:.1f} ms over {len(QUERIES) * 5} queries")
    print(f"list all entries          {result['list_all_ms']:.0f} ms")
    print(f"database size             {result['db_mb']:.1f} MB")
    print(f"peak memory               {result['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
