"""Care: noticing words of acute crisis and the gentle note Companion gives after saving.

Pure matching lives here; the phrase list is data (companion/data/crisis_words.toml). Companion never
blocks saving, never diagnoses, and the note can be turned off (COMPANION_CRISIS_NOTE=0).
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources

from companion.textnorm import scoring_words

CRISIS_NOTE = (
    "Thank you for saying that. It is saved. Companion is not a therapist and cannot help in a crisis. "
    "If you are in danger or thinking of harming yourself, please contact your therapist "
    "or your local emergency services now."
)
"""Said (and shown) after saving, when a crisis phrase was heard."""


@lru_cache(maxsize=1)
def crisis_phrases() -> tuple[tuple[str, ...], ...]:
    """The documented crisis phrases, each as normalised words."""
    text = resources.files("companion").joinpath("data", "crisis_words.toml").read_text(encoding="utf-8")
    phrases = tomllib.loads(text)["phrases"]
    return tuple(dict.fromkeys(tuple(scoring_words(p)) for p in phrases if scoring_words(p)))  # "can't" and "cannot" once


def crisis_words_in(text: str, phrases: tuple[tuple[str, ...], ...] | None = None) -> list[str]:
    """The crisis phrases found in `text` as whole words (case and punctuation ignored)."""
    words = scoring_words(text)  # contractions written out: "don't" and "do not" are the same words
    found = []
    for phrase in crisis_phrases() if phrases is None else phrases:
        n = len(phrase)
        if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
            found.append(" ".join(phrase))
    return found


def crisis_note_enabled(flag: bool | None = None) -> bool:
    """On unless turned off by the command's flag or COMPANION_CRISIS_NOTE=0."""
    if flag is not None:
        return flag
    return os.environ.get("COMPANION_CRISIS_NOTE", "1").strip().lower() not in ("0", "false", "no", "off")


def crisis_note_for(text: str, enabled: bool = True) -> str | None:
    """The note to give after saving `text`, or None."""
    return CRISIS_NOTE if enabled and crisis_words_in(text) else None
