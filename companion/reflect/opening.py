"""What a reflection says, and its first word said at once: the greeting is played as soon as the
speaker opens, while the microphone, the store and the speech engine are still being opened."""

from __future__ import annotations

from typing import TYPE_CHECKING

from companion.config import Settings
from companion.errors import StorageError
from companion.understand.crisis import CRISIS_NOTE

if TYPE_CHECKING:
    from companion.audio.playback import Clip, Speaker
    from companion.voice.base import Voice

OPENING = (
    "Hello. Let's take a few quiet minutes with what came up in your session. "
    "I'll ask {count}. Answer in your own words. "
    "When you have finished, a pause is enough, or say next."
)
CLOSING_SAVED = "Thank you. Your reflection is saved. You can read it back any time with companion list."
CLOSING_EMPTY = "Nothing was recorded this time, and that's okay. You can come back whenever you like."


def how_many_questions(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    count = words[n] if n < len(words) else str(n)
    return f"{count} short question" + ("" if n == 1 else "s")


def opening_for(settings: Settings) -> str:
    return OPENING.format(count=how_many_questions(len(settings.prompts)))


def spoken_parts(opening: str) -> list[str]:
    """The opening as it is said: its short greeting, then the rest. On a first start the greeting
    is rendered in a moment and the rest is rendered while it is heard."""
    greeting, _, rest = opening.partition(" ")
    return [greeting, rest] if greeting.endswith(".") and rest else [opening]


def phrases(settings: Settings) -> list[str]:
    """What a reflection may say, in order: the opening, the questions, the closings, the crisis note."""
    return [*spoken_parts(opening_for(settings)), *settings.prompts, CLOSING_SAVED, CLOSING_EMPTY, CRISIS_NOTE]


def greet(voice: Voice, speaker: Speaker, settings: Settings) -> Clip | None:
    """Start saying the opening's greeting now, when it is rendered already (None otherwise: it is then
    said with the rest, rendered while the devices open). Nobody answers a greeting, so it needs no
    microphone."""
    parts = spoken_parts(opening_for(settings))
    if len(parts) < 2 or not voice.is_cached(parts[0]):
        return None
    try:
        return speaker.play(*voice.render(parts[0]))
    except StorageError:
        return None
