"""Full-text search over prompts and answers, a page at a time: the best matches first (FTS5's rank,
the newest first among equals), the kind and period filters inside the query, and how many more.

The cost follows the page, not the history: ranking reads at most `RANKED_AT_MOST` matches (the most
recently stored ones that pass the filters) and counting stops at `COUNTED_AT_MOST`. Only `every=True`
(`companion search --all`) ranks and returns every match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from companion.store.queries import ENTRY_COLUMNS, Timestamp, entry_row, filters, fts_query

SNIPPET_MARKS = ("[", "]")
"""What a search puts around the matching words in a snippet."""

RANKED_AT_MOST = 2_000
"""When more entries match, the best of the most recently stored this many come first."""

COUNTED_AT_MOST = 2_000
"""Matches are counted up to this many; beyond it, "more than" is said."""


@dataclass
class SearchPage:
    """One page of results, best first, and how many other entries match."""

    results: list[dict] = field(default_factory=list)
    matched: int = 0  # every entry that matches (at most COUNTED_AT_MOST)
    counted_all: bool = True  # False: more than `matched` entries match

    @property
    def more(self) -> int:
        """Matching entries not on this page (at least this many when not `counted_all`)."""
        return max(0, self.matched - len(self.results))


def _matching(db: Database, kind: str | None, since, until) -> tuple[str, dict]:
    """FROM/WHERE for the entries matching `:match` and the filters; the words index drives, each
    match then looks up its entry by id (`+` keeps SQLite from turning this around). A period also
    bounds the ids searched, to those of the entries in it (read through the index on their moment),
    so the words index skips the rest."""
    clauses, params = filters(kind, since, until, table="e")
    clauses = [c.replace("e.kind", "+e.kind") for c in clauses]
    if since is not None or until is not None:
        period = " AND ".join(c for c in clauses if "started_at" in c).replace("e.started_at", "started_at")
        low, high = db.execute(f"SELECT min(id), max(id) FROM entries WHERE {period}", params).fetchone()
        clauses.append("entries_fts.rowid BETWEEN :low AND :high")
        params.update(low=low if low is not None else 1, high=high if high is not None else 0)
    where = " AND ".join(["entries_fts MATCH :match", *clauses])
    return f"FROM entries_fts CROSS JOIN entries e ON e.id = entries_fts.rowid WHERE {where}", params


def search_page(
    db: Database,
    query: str,
    kind: str | None = None,
    since: Timestamp | date | None = None,
    until: Timestamp | date | None = None,
    limit: int | None = 20,
    every: bool = False,
) -> SearchPage:
    """The best `limit` matches of `query` (every match when `every`), with how many match in all.

    Each result is an entry (without words) plus a `snippet` with the matching words wrapped in
    `SNIPPET_MARKS`. Every term is quoted, so FTS syntax in the query is taken literally; a trailing
    `*` still searches by prefix."""
    match = fts_query(query)
    if not match:
        return SearchPage()
    source, params = _matching(db, kind, since, until)
    params["match"] = match
    unfiltered = kind is None and since is None and until is None  # then the words index alone is read
    candidates = "FROM entries_fts WHERE entries_fts MATCH :match" if unfiltered else source
    newest = [row[0] for row in db.execute(
        f"SELECT entries_fts.rowid {candidates} ORDER BY entries_fts.rowid DESC LIMIT :cap",
        {**params, "cap": max(COUNTED_AT_MOST, RANKED_AT_MOST) + 1})]
    counted_all = len(newest) <= COUNTED_AT_MOST
    if not newest:
        return SearchPage()
    window = ""
    if not every and len(newest) > RANKED_AT_MOST:
        window = " AND entries_fts.rowid >= :floor"
        params["floor"] = newest[RANKED_AT_MOST - 1]
    columns = ", ".join(f"e.{c.strip()}" for c in ENTRY_COLUMNS.split(","))
    sql = f"""
        SELECT {columns},
            snippet(entries_fts, 1, :open, :close, '…', 12) AS text_snippet,
            snippet(entries_fts, -1, :open, :close, '…', 12) AS best_snippet
        {source}{window}
        ORDER BY entries_fts.rank, julianday(e.started_at) DESC, e.id DESC
    """
    if not every and limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    open_, close = SNIPPET_MARKS
    rows = db.query(sql, {**params, "open": open_, "close": close})
    results = [_search_row(r) for r in rows]
    if every:
        return SearchPage(results, len(results), True)
    return SearchPage(results, min(len(newest), COUNTED_AT_MOST), counted_all)


def _search_row(row: dict) -> dict:
    """Prefer a snippet of the person's own words; fall back to the prompt's."""
    text_snippet, best_snippet = row.pop("text_snippet"), row.pop("best_snippet")
    row = entry_row(row)
    row["snippet"] = text_snippet if SNIPPET_MARKS[0] in text_snippet else best_snippet
    return row
