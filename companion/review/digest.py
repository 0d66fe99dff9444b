"""The review before the next session: a short digest of the period, then each reflection answer,
then the ripples and check-ins. `build_digest`, `digest_sentences` and `review_items` are pure;
`gather` reads the period from the store. companion.review.read_aloud speaks it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from companion.review.chart import local_day, state_days, states_text
from companion.review.export import day_name
from companion.store.database import Store
from companion.terminal import Terminal


@dataclass
class Digest:
    """What the period held, plainly: no scores, no streaks."""

    since: str | None  # ISO time the period starts (None: from the beginning)
    session_held_at: str | None
    reflections: int = 0
    ripples: int = 0
    checkins: int = 0
    states: list[tuple[str, int]] = field(default_factory=list)  # most named first
    practices: list[str] = field(default_factory=list)  # names, most done first


@dataclass
class Item:
    """One step of the review: what is shown and said, and (for an answer) its entry."""

    shown: str
    spoken: str
    entry: dict | None = None


def build_digest(entries: list[dict], states: list[tuple[str, int]], practices: list[str],
                 since: str | None, session_held_at: str | None) -> Digest:
    """Count the period's entries by kind; keep the body states and practices as given."""
    kinds = Counter(e["kind"] for e in entries)
    ordered_practices = [name for name, _ in Counter(practices).most_common()]
    return Digest(since, session_held_at, kinds["reflection"], kinds["ripple"], kinds["checkin"], states, ordered_practices)


def _plural(n: int, one: str, many: str) -> str:
    return f"{'one' if n == 1 else n} {one if n == 1 else many}"


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def digest_sentences(digest: Digest) -> list[str]:
    """The digest in a few calm sentences, the same spoken and shown."""
    if digest.session_held_at:
        opening = f"Since your session on {day_name(datetime.fromisoformat(digest.session_held_at))}"
    elif digest.since:
        opening = f"Since {day_name(datetime.fromisoformat(digest.since))}"
    else:
        opening = "So far"
    parts = [p for p in (
        _plural(digest.reflections, "reflection answer", "reflection answers") if digest.reflections else "",
        _plural(digest.ripples, "ripple", "ripples") if digest.ripples else "",
        _plural(digest.checkins, "body check-in", "body check-ins") if digest.checkins else "",
    ) if p]  # fmt: skip
    if not parts and not digest.practices:
        return [f"{opening}, nothing has been recorded, and that is okay."]
    sentences = [f"{opening}, you kept {_listing(parts)}." if parts else f"{opening}, nothing was spoken or written."]
    if digest.states:
        sentences.append(states_sentence(digest.states))
    if digest.practices:
        sentences.append(f"Practices you did: {_listing(digest.practices)}.")
    return sentences


STATES_LISTED = 6  # body states named in the digest at most; the rest are counted


def states_sentence(states: list[tuple[str, int]]) -> str:
    """The body states of the period (most named first). "Most" is said only when some state was
    named more often than others; otherwise they are simply listed."""
    counts = [n for _, n in states]
    names = [name for name, _ in states]
    shown = names[:STATES_LISTED] + ([f"{len(names) - STATES_LISTED} more"] if len(names) > STATES_LISTED else [])
    if len(set(counts)) <= 1:
        return f"The body {'state' if len(names) == 1 else 'states'} you named: {_listing(shown)}."
    top = [name for name, n in states if n == counts[0]]
    rest = [name for name, n in states if n != counts[0]]
    rest = rest[:STATES_LISTED] + ([f"{len(rest) - STATES_LISTED} more"] if len(rest) > STATES_LISTED else [])
    return f"You named {_listing(top)} most often, and also {_listing(rest)}."


NOTES_LISTED = 8  # ripples or check-ins read in the review at most (the most recent)


def review_items(digest: Digest, entries: list[dict]) -> list[Item]:
    """The digest first, then each reflection answer with its question, then the ripples and the
    body check-ins of the period, each group as one short item."""
    summary = " ".join(digest_sentences(digest))
    items = [Item(summary, summary)]
    answers = [e for e in entries if e["kind"] == "reflection"]
    for entry in answers:
        question = (entry.get("prompt") or "").strip()
        text = (entry.get("text") or "").strip() or "(no words were recognised; your voice is kept)"
        when = datetime.fromisoformat(entry["started_at"])
        heading = f"{day_name(when)}, {when:%H:%M}" + (f" — {question}" if question else "")
        spoken = (f"{question} " if question else "") + f"You said: {text}"
        items.append(Item(f"{heading}\n  {text}", spoken, entry))
    for kind, title, said in (("ripple", "Ripples you noticed", "The ripples you noticed."),
                              ("checkin", "Body check-ins", "Your body check-ins.")):
        group = [e for e in entries if e["kind"] == kind and (e.get("text") or "").strip()]
        if group:
            items.append(_group_item(group, title, said, kind))
    return items


def _group_item(entries: list[dict], title: str, said: str, kind: str) -> Item:
    """Ripples or check-ins as one item: each with its day, the most recent NOTES_LISTED."""
    shown_lines, spoken = [title], [said]
    earlier = len(entries) - NOTES_LISTED
    for entry in entries[-NOTES_LISTED:]:
        when = datetime.fromisoformat(entry["started_at"])
        text = " ".join((entry.get("text") or "").split())
        end = "" if text.endswith((".", "!", "?")) else "."
        shown_lines.append(f"  {when:%a} {when.day} {when:%b}, {when:%H:%M}: {text}")
        spoken.append(f"On {when:%A}: {text}{end}")
    if earlier > 0:
        more = f"and {_plural(earlier, 'earlier one', 'earlier ones')}; `companion list --kind {kind}` shows them"
        shown_lines.append(f"  ({more})")
        spoken.append(f"And {_plural(earlier, 'earlier one', 'earlier ones')}.")
    return Item("\n".join(shown_lines), " ".join(spoken))


def practices_done(store: Store, since: str | None = None) -> list[str]:
    """Names of grounding practices done in the period, if the practices feature keeps a record.

    Looks for a table whose name mentions "practice" with a name column and a time column, so it
    works with whatever the practices module stores; an empty list if there is none.
    """
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%practice%'")]
    for table in tables:
        columns = {c.name for c in store.db[table].columns}
        name = next((c for c in ("title", "practice_name", "practice", "name") if c in columns), None)
        moment = next((c for c in ("started_at", "done_at", "finished_at", "held_at", "created_at", "at") if c in columns), None)
        if name and moment:
            where, params = (f"WHERE julianday({moment}) >= julianday(?)", [since]) if since else ("", [])
            sql = f'SELECT "{name}" FROM "{table}" {where} ORDER BY {moment}'
            return [str(row[0]) for row in store.db.execute(sql, params) if row[0]]
    return []


def gather(store: Store, since: str | None = None) -> tuple[Digest, list[dict]]:
    """The digest and the entries for the period: since `since`, or since the last session."""
    from companion.store.sessions import since_last_session

    session = None
    if since is None:
        session, since = since_last_session(store)
    entries = store.list_entries(since=since)
    for entry in entries:
        entry["words"] = store.entry_words(entry["id"])
        entry["states"] = store.entry_states(entry["id"])
    digest = build_digest(entries, store.state_counts(since=since), practices_done(store, since), since,
                          session["held_at"] if session else None)
    return digest, entries


def states_chart(digest: Digest, entries: list[dict], today: date | None = None) -> list[str]:
    """The body states of the review's period as a small text chart (entries carry `states`)."""
    first = local_day(digest.since) if digest.since else None
    last = max([today or date.today()] + [local_day(e["started_at"]) for e in entries])
    return states_text(state_days(entries, first, last))


def print_review(ui: Terminal, items: list[Item], chart: list[str] | None = None) -> None:
    """The review, shown without speaking; the body-state chart (if any) after the digest."""
    for number, item in enumerate(items):
        ui.say("")
        ui.say(item.shown if number == 0 else f"({number}/{len(items) - 1}) {item.shown}")
        if number == 0 and chart:
            ui.say("")
            for line in chart:
                ui.say(line)
