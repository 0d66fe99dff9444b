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


def word_errors(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of one cheapest alignment of two word sequences."""
    rows = [list(range(len(hyp) + 1))]
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(rows[-1][j] + 1, cur[j - 1] + 1, rows[-1][j - 1] + (r != h))
        rows.append(cur)
    subs = dels = ins = 0
    i, j = len(ref), len(hyp)
    while i or j:
        if i and j and rows[i][j] == rows[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            subs += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i and rows[i][j] == rows[i - 1][j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return subs, dels, ins


_CONTRACTIONS = {
    "i'm": "i am", "i've": "i have", "i'll": "i will", "i'd": "i would", "you're": "you are", "you've": "you have",
    "you'll": "you will", "we're": "we are", "we've": "we have", "we'll": "we will", "they're": "they are",
    "they've": "they have", "they'll": "they will", "it's": "it is", "that's": "that is", "there's": "there is",
    "what's": "what is", "he's": "he is", "she's": "she is", "let's": "let us", "isn't": "is not",
    "aren't": "are not", "wasn't": "was not", "weren't": "were not", "don't": "do not", "doesn't": "does not",
    "didn't": "did not", "can't": "cannot", "couldn't": "could not", "won't": "will not", "wouldn't": "would not",
    "shouldn't": "should not", "haven't": "have not", "hasn't": "has not", "hadn't": "had not",
}  # fmt: skip


def scoring_words(text: str) -> list[str]:
    """Words as a word error rate compares them: normalised, contractions written out ("I'm" and "I
    am" are the same words said), as Whisper's own English normaliser does."""
    return [part for w in normalize_words(text) for part in _CONTRACTIONS.get(w, w).split()]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words."""
    ref, hyp = scoring_words(reference), scoring_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def missing_word_rate(reference: str, hypothesis: str) -> float:
    """The share of the reference's words that have no word at all in the hypothesis (deletions):
    what was said and lost, apart from what was heard wrongly."""
    ref, hyp = scoring_words(reference), scoring_words(hypothesis)
    return word_errors(ref, hyp)[1] / len(ref) if ref else 0.0


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Like WER on characters without spaces (for languages such as Korean)."""
    ref = [c for c in "".join(normalize_words(reference))]
    hyp = [c for c in "".join(normalize_words(hypothesis))]
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)



def join_words(words) -> str:
    """Recognised words (anything with a `.word`) back into text; pieces such as "-disposed" or
    "'s" attach to the word before."""
    text = ""
    for w in words:
        glue = not text or w.word[:1] in "-'"
        text += w.word if glue else " " + w.word
    return text.strip()
