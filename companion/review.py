"""The review before the next session: a short digest of the period, then each reflection answer.

`build_digest`, `digest_sentences` and `review_items` are pure. `Review` speaks the items and listens,
hands-free, for "next", "back", "repeat", "play my voice" and "stop" (companion/listen.py).
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from companion.audio.capture import Microphone
from companion.audio.playback import Speaker
from companion.errors import CompanionError
from companion.export import day_name
from companion.listen import CommandHeard, CommandListener
from companion.replay import Replay
from companion.speech.base import SpeechEngine
from companion.storage import Store
from companion.ui import Terminal
from companion.voice import Voice

REVIEW_COMMANDS: dict[str, list[str]] = {
    "next": ["next", "next one", "go on"],
    "back": ["back", "go back", "previous"],
    "repeat": ["repeat", "again", "say that again"],
    "play": ["play my voice", "play my voice again", "my voice"],
    "stop": ["stop", "stop the review", "that's enough"],
}
HELP = 'You can say "next", "back", "repeat", "play my voice" or "stop" at any time.'
END = "That is everything for now. Take care until next time."
STOPPED = "Stopping here. Everything stays saved."


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
        top = [name for name, _ in digest.states[:3]]
        sentences.append(f"The body states you named most: {_listing(top)}.")
    if digest.practices:
        sentences.append(f"Practices you did: {_listing(digest.practices)}.")
    return sentences


def review_items(digest: Digest, entries: list[dict]) -> list[Item]:
    """The digest first, then each reflection answer with its question."""
    summary = " ".join(digest_sentences(digest))
    items = [Item(summary, summary)]
    answers = [e for e in entries if e["kind"] == "reflection"]
    for number, entry in enumerate(answers, 1):
        question = (entry.get("prompt") or "").strip()
        text = (entry.get("text") or "").strip() or "(no words were recognised; your voice is kept)"
        when = datetime.fromisoformat(entry["started_at"])
        heading = f"{day_name(when)}, {when:%H:%M}" + (f" — {question}" if question else "")
        spoken = (f"{question} " if question else "") + f"You said: {text}"
        items.append(Item(f"{heading}\n  {text}", spoken, entry))
    return items


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
    from companion.sessions import since_last_session

    session = None
    if since is None:
        session, since = since_last_session(store)
    entries = store.list_entries(since=since)
    for entry in entries:
        entry["words"] = store.entry_words(entry["id"])
    digest = build_digest(entries, store.state_counts(since=since), practices_done(store, since), since,
                          session["held_at"] if session else None)
    return digest, entries


def print_review(ui: Terminal, items: list[Item]) -> None:
    """The review, shown without speaking."""
    for number, item in enumerate(items):
        ui.say("")
        ui.say(item.shown if number == 0 else f"({number}/{len(items) - 1}) {item.shown}")


class Review:
    """Reads the review aloud, one item at a time, moving on after `pause` seconds or a spoken command."""

    def __init__(self, store: Store, engine: SpeechEngine, mic: Microphone, speaker: Speaker, voice: Voice,
                 ui: Terminal, pause: float = 6.0) -> None:
        self.store, self.engine, self.mic, self.speaker, self.voice = store, engine, mic, speaker, voice
        self.ui, self.pause = ui, pause
        self.commands: queue.Queue[str] = queue.Queue()
        self.replay = Replay(store, speaker, live=ui.live)

    def _heard(self, heard: CommandHeard) -> None:
        self.speaker.silence()  # act at once, even mid-sentence
        self.commands.put(heard.command)

    def _say(self, text: str) -> str | None:
        """Speak `text`; returns a command if one interrupted it."""
        samples, rate = self.voice.render(text)
        clip = self.speaker.play(samples, rate)
        while not clip.done.is_set():
            try:
                return self.commands.get(timeout=0.05)
            except queue.Empty:
                continue
        self.speaker.wait(clip)
        return None

    def _wait_for_command(self, seconds: float) -> str | None:
        try:
            return self.commands.get(timeout=seconds)
        except queue.Empty:
            return None

    def _play_voice(self, entry: dict | None) -> str | None:
        if entry is None or not entry.get("audio"):
            return self._say("There is no recording for this one.")
        stop = threading.Event()
        result: list[str] = []

        def watch() -> None:
            while not stop.is_set():
                try:
                    result.append(self.commands.get(timeout=0.05))
                    stop.set()
                except queue.Empty:
                    continue

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        self.ui.say("  (your voice)")
        try:
            self.replay.play(entry, stop=stop)
        except CompanionError as e:
            self.ui.say(f"  ({e.message})")
        finally:
            stop.set()
            watcher.join(timeout=1)
        return result[0] if result else None

    def run(self, items: list[Item]) -> bool:
        """Go through the items; returns True if the person said stop before the end."""
        for item in items:  # render up front, so nothing is rendered on the beat
            self.voice.render(item.spoken)
        with CommandListener(self.mic, self.engine, REVIEW_COMMANDS, self._heard, self._lost_mic):
            self.ui.say(HELP)
            index = 0
            pending = self._say(HELP)  # a command said over the help counts for the first item
            while index < len(items):
                item = items[index]
                self.ui.say("")
                self.ui.say(item.shown if index == 0 else f"({index}/{len(items) - 1}) {item.shown}")
                command = pending or self._say(item.spoken) or self._wait_for_command(self.pause)
                pending = None
                while command in ("play", "repeat"):
                    if command == "play":
                        command = self._play_voice(item.entry) or self._wait_for_command(self.pause)
                    else:
                        command = self._say(item.spoken) or self._wait_for_command(self.pause)
                if command == "stop":
                    self.ui.say("")
                    self.ui.say(STOPPED)
                    self._say(STOPPED)
                    return True
                index = max(0, index - 1) if command == "back" else index + 1
            self.ui.say("")
            self.ui.say(END)
            self._say(END)
        return False

    def _lost_mic(self, error: Exception) -> None:
        self.ui.say(f"  (the microphone stopped: {error}; the review goes on by itself)")
