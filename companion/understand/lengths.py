"""Lengths as people say them ("for five minutes", "a minute and a half", "2.5 min"): pure parsing
of normalised words, with the number and unit words given as data (companion/data/intents.toml)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_NOT_DIGITS = ("a", "an", "couple", "few", "several", "half")
"""Number words that never end a compound number ("twenty five", never "twenty few")."""


def spoken_minutes(words: list[str], numbers: Mapping[str, float], units: Mapping[str, float]) -> tuple[float | None, set[int]]:
    """The length said in normalised `words` ("for five minutes", "a couple of minutes", "2.5 min",
    "90 seconds") in minutes, and the positions of the words that say it; (None, set()) if none.
    `numbers` gives number words their value, `units` gives unit words their minutes."""
    for at in range(len(words)):
        value, n = _number(words, at, numbers)
        if value is None:
            continue
        if words[at : at + 1] == ["half"] and words[at + 1 : at + 2] in (["a"], ["an"]):
            value, n = 0.5, 2  # "half a minute", "half an hour"
        if words[at + n : at + n + 3] == ["and", "a", "half"]:
            value, n = value + 0.5, n + 3
        if words[at + n : at + n + 1] in (["of"], ["more"]):
            n += 1  # "a couple of minutes", "five more minutes"
        unit = words[at + n] if at + n < len(words) else ""
        if unit not in units:
            if at + n == len(words) and words[at - 1 : at] == ["for"] and words[at] not in _NOT_DIGITS:
                return value, set(range(at, at + n))  # "hand on chest for 5": minutes, the unit left out
            continue
        used = n + 1
        if words[at + used : at + used + 3] == ["and", "a", "half"]:
            value, used = value + 0.5, used + 3  # "a minute and a half"
        return round(value * units[unit], 2), set(range(at, at + used))
    return None, set()


def _number(words: list[str], at: int, numbers: Mapping[str, float]) -> tuple[float | None, int]:
    """The number at `at` ("5", "2.5", "twenty five", "a couple") and how many words it takes."""
    word = words[at]
    if re.fullmatch(r"\d+(\.\d+)?", word):
        return float(word), 1
    if word in ("a", "an") and at + 1 < len(words) and words[at + 1] in ("couple", "few"):
        return numbers[words[at + 1]], 2
    if word not in numbers:
        return None, 0
    value = numbers[word]
    following = words[at + 1] if at + 1 < len(words) else ""
    if value in (20, 30, 40, 50) and following in numbers and following not in _NOT_DIGITS and numbers[following] < 10:
        return value + numbers[following], 2  # "twenty five"
    return value, 1
