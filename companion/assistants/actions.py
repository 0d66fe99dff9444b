"""What Companion does for a request that arrives as words (the listener's, an OpenVoiceOS skill's or a
Wyoming handler's): keep a ripple or a check-in, mark a session, say what was kept since the session,
begin a practice or a reflection. Each returns what to say back; nothing here listens or speaks.

Entries kept from words another assistant heard carry that assistant as their `engine` and no audio:
its own speech recognition did the hearing and Companion never had the recording.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.config import Settings
from companion.notice.flow import CHECKIN_PROMPT, RIPPLE_PROMPT, save_checkin, save_ripple
from companion.practice.guide import DEFAULT_PRACTICE
from companion.practice.model import Breathe, Practice, Say, find
from companion.practice.timing import DEFAULT_WORDS, LONGEST_MINUTES, SHORTEST_MINUTES, with_minutes, with_spoken_length
from companion.review.digest import digest_sentences, gather
from companion.store.database import Store
from companion.store.sessions import mark_session, session_for
from companion.understand.intents import Request, kind_reply

SESSION_NOTED = "Your session is noted. Your review gathers everything from here on."
ASK_RIPPLE = RIPPLE_PROMPT
ASK_CHECKIN = CHECKIN_PROMPT
NOTHING_HEARD = "Nothing was kept, and that's okay."
REFLECTION_OPENING = "Let's take a few quiet minutes with what came up in your session."
REFLECTION_CLOSING = "Thank you. Your reflection is saved."


@dataclass(frozen=True)
class Reply:
    """What to say back, and the entry kept if one was."""

    text: str
    entry_id: int | None = None


def _with_note(reply: str, crisis_note: str | None) -> str:
    return f"{crisis_note} {reply}" if crisis_note else reply


def keep_ripple(store: Store, text: str, source: str) -> Reply:
    """Keep a ripple said in words `source` heard; empty words are asked for (see ASK_RIPPLE)."""
    if not text.strip():
        return Reply(NOTHING_HEARD)
    saved = save_ripple(store, text, source=source)
    return Reply(_with_note(saved.reply, saved.crisis_note), saved.entry_id)


def keep_checkin(store: Store, text: str, source: str) -> Reply:
    """Keep a body check-in said in words `source` heard, with the states its words name."""
    if not text.strip():
        return Reply(NOTHING_HEARD)
    saved = save_checkin(store, text, source=source)
    return Reply(_with_note(saved.reply, saved.crisis_note), saved.entry_id)


def note_session(store: Store) -> Reply:
    """Mark that a session took place now."""
    mark_session(store)
    return Reply(SESSION_NOTED)


def since_session(store: Store, kind: str | None = None) -> Reply:
    """A few sentences on what was kept since the last session (of one kind when asked)."""
    digest, entries = gather(store)
    sentences = digest_sentences(digest)
    if kind:
        texts = [e["text"] for e in entries if e["kind"] == kind and e["text"]][-3:]
        if texts:
            sentences.append("The most recent: " + " ... ".join(texts))
    return Reply(" ".join(sentences))


def reflection_questions(settings: Settings) -> list[str]:
    """The reflection's questions, as the person set them."""
    return list(settings.prompts)


def keep_reflection(store: Store, answers: list[tuple[str, str]], source: str) -> Reply:
    """Keep the answers of a reflection (question, words) said to another assistant, as one sitting."""
    kept = [(q, a.strip()) for q, a in answers if a.strip()]
    if not kept:
        return Reply(NOTHING_HEARD)

    with store.db.atomic():
        session_id = session_for(store)
        reflection_id = store.start_reflection(session_id, source, None)
        for question, text in kept:
            store.add_entry("reflection", text, prompt=question, engine=source, reflection_id=reflection_id,
                            session_id=session_id)
        store.finish_reflection(reflection_id)
    return Reply(REFLECTION_CLOSING, reflection_id)


def chosen_practice(request: Request) -> Practice | None:
    """The practice a request names, or None when it asks for one without naming it."""
    return find(request.practice) if request.practice else None


def practice_or_default(request: Request) -> Practice:
    """The practice a request names, or the short default (DEFAULT_PRACTICE) when it names none."""
    return chosen_practice(request) or find(DEFAULT_PRACTICE)


def guided_words(practice: Practice, minutes: float | None = None) -> list[str]:
    """A practice as words to read out without Companion's timing: its spoken lines with the length
    filled in (`minutes` as asked, when within half a minute to an hour), and each breathing step as
    one round of its cues."""
    fits = minutes is not None and SHORTEST_MINUTES <= minutes <= LONGEST_MINUTES
    practice = with_spoken_length(with_minutes(practice, minutes) if fits else practice)
    words = []
    for step in practice.steps:
        if isinstance(step, Say):
            words.append(step.text)
        elif isinstance(step, Breathe):
            cues = [p.say or DEFAULT_WORDS[p.kind] for p in step.phases]
            words.append("... ".join(cues) + ". A few breaths like this, at your own pace.")
    return words


def reply_for(request: Request) -> str:
    """The calm words for requests that need nothing kept: unknown, cancel, stop and the crisis note."""
    return kind_reply(request)
