"""Body states in a check-in: pure, data-driven matching of a person's words to the states they name.

The states and their words are data (companion/data/body_states.toml), extendable by a file of the
same shape at COMPANION_HOME/body_states.toml. Words that name no state are kept as said, never forced.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from companion.errors import CompanionError
from companion.paths import data_dir
from companion.textnorm import normalize_words

NEGATIONS = {"not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "hardly", "nor", "without"}
FILLER = {
    "i", "i'm", "im", "am", "feel", "feels", "feeling", "a", "an", "the", "bit", "little", "kind", "of",
    "sort", "very", "quite", "pretty", "really", "so", "and", "but", "or", "my", "body", "is", "it", "it's",
    "its", "right", "now", "today", "somewhat", "rather", "too", "also", "just", "like", "in", "at", "with",
    "me", "some", "more", "less", "than", "bit", "slightly", "mostly", "all", "over", "well", "okay", "ok",
    "um", "uh", "there", "this", "that", "still", "maybe", "bit", "touch", "though", "yet", "mm", "hmm", "fairly",
    "are", "was", "were", "be", "been", "has", "have", "had", "to", "for", "on", "lot", "much", "bits",
} | NEGATIONS
_SUFFIXES = ("", "er", "ness")  # "lighter", "stiffness"; other forms are listed in the data file


@dataclass(frozen=True)
class BodyStates:
    """What a check-in answer said: the states it maps to, and the words kept as they are."""

    states: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def load_body_vocabulary(extra_file: Path | None = None) -> dict[str, list[str]]:
    """State name -> words and phrases, from the packaged data and an optional file of the same shape."""
    text = resources.files("companion").joinpath("data", "body_states.toml").read_text(encoding="utf-8")
    vocabulary = {name: list(value["words"]) for name, value in tomllib.loads(text)["states"].items()}
    extra_file = extra_file if extra_file is not None else data_dir() / "body_states.toml"
    if extra_file.is_file():
        hint = "it should look like companion/data/body_states.toml; fix or remove it"
        try:
            extra = tomllib.loads(extra_file.read_text(encoding="utf-8")).get("states", {})
        except OSError as e:
            raise CompanionError(f"{extra_file} cannot be read: {e.strerror or e}", "check its permissions, or remove it") from None
        except UnicodeDecodeError as e:
            raise CompanionError(f"{extra_file} is not UTF-8 text (the byte 0x{e.object[e.start]:02x} at position {e.start})",
                                 "save it as UTF-8, or remove it") from None
        except tomllib.TOMLDecodeError as e:
            raise CompanionError(f"{extra_file} is not valid TOML: {e}", hint) from None
        if not isinstance(extra, dict):
            raise CompanionError(f"{extra_file}: [states] should be a table of states", hint)
        for name, value in extra.items():
            words = value.get("words", []) if isinstance(value, dict) else None
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise CompanionError(f"{extra_file}: the state '{name}' should have words = [\"...\", ...]", hint)
            vocabulary.setdefault(name, []).extend(words)
    for name in vocabulary:  # the state's own name always counts
        vocabulary[name].insert(0, name)
    return vocabulary


def _phrase_table(vocabulary: dict[str, list[str]]) -> dict[tuple[str, ...], str]:
    """Every phrase (and simple word forms of one-word entries) -> its state."""
    table: dict[tuple[str, ...], str] = {}
    for state, phrases in vocabulary.items():
        for phrase in phrases:
            words = tuple(normalize_words(phrase))
            if not words:
                continue
            if len(words) == 1:
                stem = words[0][:-1] if words[0].endswith(("e", "y")) else words[0]
                for suffix in _SUFFIXES:
                    table.setdefault((words[0] + suffix,), state)
                    if suffix:
                        table.setdefault((stem + ("i" if words[0].endswith("y") else "") + suffix,), state)
            table[words] = state
    return table


def map_body_states(text: str, vocabulary: dict[str, list[str]]) -> BodyStates:
    """The states named in `text` (several are fine, in the order said); other content words kept as unknown.

    A state right after a negation ("not tired") is not counted; its words stay in `unknown`.
    """
    words = normalize_words(text)
    table = _phrase_table(vocabulary)
    longest = max((len(p) for p in table), default=1)
    states: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            state = table.get(tuple(words[i : i + n]))
            if state:
                negated = any(w in NEGATIONS for w in words[max(0, i - 2) : i])
                if negated:
                    unknown.append(" ".join(words[max(0, i - 1) : i + n]))
                elif state not in states:
                    states.append(state)
                i += n
                break
        else:
            if words[i] not in FILLER:
                unknown.append(words[i])
            i += 1
    return BodyStates(states, unknown)


def states_phrase(states: list[str]) -> str:
    """"tired", "tired and tense", "tired, tense and calm"."""
    return states[0] if len(states) == 1 else ", ".join(states[:-1]) + " and " + states[-1]
