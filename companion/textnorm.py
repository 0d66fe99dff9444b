"""Pure text helpers: normalising transcripts and measuring word error rate."""

from __future__ import annotations

import re
import unicodedata

_NUMBER_WORDS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation, the way transcripts are compared."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = re.sub(r"[^\w\s']", " ", text)
    words = [w.strip("'") for w in text.split()]
    return [_NUMBER_WORDS.get(w, w) for w in words if w]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word sequences."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Like WER on characters without spaces (for languages such as Korean)."""
    ref = [c for c in "".join(normalize_words(reference))]
    hyp = [c for c in "".join(normalize_words(hypothesis))]
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
