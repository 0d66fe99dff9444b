"""The private page from the store: the period's entries, words, body states, practices and
recordings (as compact Ogg Opus, decrypted in memory when encryption is on), and the file it is
written to (private, 0600). The HTML itself is companion.review.page."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

from companion import paths
from companion.audio import files as audio_files
from companion.errors import CompanionError
from companion.practice.records import list_runs
from companion.review.chart import local_day, state_days, week_counts
from companion.review.digest import build_digest, digest_sentences
from companion.review.export import day_name
from companion.review.page import PageContent, page_document
from companion.store.database import Store
from companion.store.queries import bound



def default_page_path() -> Path:
    """Where `companion page` writes the page unless told otherwise: in the data folder."""
    return paths.page_file()


def period_line(since: str | None, until: str | None, session: dict | None) -> str:
    """The period in words, for the top of the page."""
    if session is not None:
        start = f"Since your session on {day_name(datetime.fromisoformat(session['held_at']))}"
    elif since is not None:
        start = f"From {day_name(datetime.fromisoformat(bound(since)))}"
    else:
        start = "Everything you have kept"
    if until is not None:
        end = datetime.fromisoformat(bound(until, end=True)) - timedelta(seconds=1)
        start += f", up to {day_name(end)}"
    return start + "."


def build_page(store: Store, since: str | None = None, until: str | None = None, everything: bool = False,
               today: date | None = None) -> PageContent:
    """The page's content for a period: `everything`, or from `since` (default: the last session) up
    to `until` (a date includes its whole day)."""
    from companion.store.sessions import since_last_session

    session = None
    if not everything and since is None:
        session, since = since_last_session(store)
    entries = store.list_entries(since=since, until=until)
    for entry in entries:
        entry["states"] = store.entry_states(entry["id"])
        entry["words"] = store.entry_words(entry["id"])
    runs = [run for run in list_runs(store) if _within(run["started_at"], since, until)]
    today = today or date.today()
    first = local_day(bound(since)) if since else None
    last = local_day(bound(until, end=True)) - timedelta(days=1) if until else max(
        [today] + [local_day(e["started_at"]) for e in entries])
    marks = state_days(entries, first, last)
    weeks = week_counts(entries, [run["started_at"] for run in runs], marks.first, marks.last)
    digest = build_digest(entries, store.state_counts(since=since, until=until),
                          [run["title"] or run["practice"] for run in runs], since,
                          session["held_at"] if session else None)
    return PageContent(period_line(since, until, session), digest_sentences(digest), store.list_sessions(),
                       entries, marks, weeks, recordings(store, entries), day_name(today))


def _within(moment: str, since: str | None, until: str | None) -> bool:
    at = datetime.fromisoformat(moment)
    return ((since is None or at >= datetime.fromisoformat(bound(since)))
            and (until is None or at < datetime.fromisoformat(bound(until, end=True))))


def recordings(store: Store, entries: list[dict]) -> dict[int, bytes]:
    """Each entry's recording that is still kept, as Ogg Opus (an unreadable one is left out; its text
    stays). Encoding takes about 2 s a minute of speech on a slow machine, so recordings are encoded
    side by side, one per core (the encoder runs outside Python's lock)."""
    from concurrent.futures import ThreadPoolExecutor

    kept = [(entry["id"], path) for entry in entries
            if (path := store.audio_path(entry)) is not None and path.is_file()]

    def encode(path: Path) -> bytes | None:
        try:
            return audio_files.compact_speech(path)
        except (CompanionError, OSError, RuntimeError):  # left out of the page; its words are still there
            return None

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        encoded = pool.map(encode, [path for _, path in kept])
        return {entry_id: data for (entry_id, _), data in zip(kept, encoded) if data is not None}


def page_html(store: Store, since: str | None = None, until: str | None = None, everything: bool = False) -> str:
    """The whole page for a period, as HTML text."""
    return page_document(build_page(store, since, until, everything))


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by its owner only (0600), replacing what was there."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        paths.make_private(path)
    except OSError as e:
        raise CompanionError(f"cannot write the page to {path}: {e.strerror or e}",
                             "choose a file in a folder that exists and that you can write to; nothing stored was changed") from None
    return path


def encryption_note(path: Path) -> str | None:
    """The one line `companion page` says when the data folder is encrypted: the page is not."""
    from companion.store import crypto

    if not crypto.is_enabled(paths.data_dir()):
        return None
    return (f"Your data folder is encrypted; this page is not (a browser must read it), and it is written only "
            f"to {path}: delete it when you no longer need it.")
