"""Never invent words in a person's journal: Whisper's known inventions on silence and noise, words
where nobody spoke, and the question's own text coming back as the answer, taken out of a
transcript (pure: words and the voice-activity probabilities of their audio in, words out).

- A word is kept only where there was voice: Silero's probability somewhere within the word (a
  little either side) must reach `MIN_SUPPORT`. Whisper's "Thank you." on the quiet after an
  answer has no voice under it.
- Whisper's stock phrases ("Thank you.", "See you next time.", "Bye.", "Thanks for watching."), or
  their beginnings as a sentence of their own ("Thank"), are kept only when said clearly: strong
  voice under every word, and confident words or words as loud as the person's other words (a said
  "Goodbye." can be decoded unsure). Said over noise or other voices by nobody, they go.
- A decoded segment Whisper itself thinks is not speech (a high no-speech probability) is dropped
  unless its text is likely (`is_not_speech`): Whisper's own rule, and a stricter one for very
  sure no-speech, where noise decoded with temperature fallback gives a lone "the".
- The question, given to Whisper as context, is taken out wherever it comes back whole, and any
  phrase said three times or more in a row is kept once ("Question 7. Question 7. Question 7.").
"""

from __future__ import annotations

import numpy as np

from companion.events import Word
from companion.textnorm import normalize_words

MIN_SUPPORT = 0.3  # the least speech probability under a word for it to have been said
SLACK = 0.12  # seconds either side of a word where its voice may be (timings are approximate)
STOCK_SUPPORT = 0.7  # a stock phrase is kept only with this much voice under each of its words...
STOCK_CONFIDENCE = 0.5  # ...and words this confident (a said "Goodbye." can be 0.52)...
STOCK_LEVEL_DB = 3.0  # ...or as loud as the person's other words, within this (a said "Goodbye." decoded at 0.28)...
STOCK_LEAST_CONFIDENCE = 0.2  # ...and not a guess (a lone "Thank" on an answer's last breath: 0.01)
STOCK_LEVEL_WORDS = 3  # the person's words needed to know how loud they speak
STOCK_PHRASES = {
    tuple(normalize_words(p)) for p in (
        "thank you", "thank you very much", "thanks", "thanks for watching", "thank you for watching",
        "thanks for listening", "thank you for listening", "see you next time", "we'll see you next time",
        "i'll see you next time",
        "see you in the next one", "we'll see you in the next one", "see you in the next video", "bye",
        "bye bye", "goodbye", "you", "okay", "so", "the end", "please subscribe", "subscribe",
        "subtitles by the amara org community", "i'm going to go ahead and do that", "oh", "um", "uh", "hmm",
    )
}  # fmt: skip
STOCK_BEGINNINGS = {phrase[:n] for phrase in STOCK_PHRASES for n in range(1, len(phrase) + 1)}
"""A stock phrase cut short is one too (a lone "Thank" at the very end of an answer)."""


def is_not_speech(no_speech_prob: float, avg_logprob: float) -> bool:
    """Whether a decoded segment is noise, from Whisper's no-speech probability and the text's mean
    log-probability."""
    return (no_speech_prob > 0.6 and avg_logprob < -1.0) or (no_speech_prob > 0.85 and avg_logprob < -0.5)


def support(word: Word, probabilities: list[float], frame_seconds: float, offset: float = 0.0) -> float:
    """The highest speech probability within `word` (and SLACK either side); `probabilities[i]` is
    frame i of audio that starts at `offset` seconds of the word timings' clock."""
    if not probabilities:
        return 1.0
    first = max(0, int((word.start - SLACK - offset) / frame_seconds))
    last = min(len(probabilities), int((word.end + SLACK - offset) / frame_seconds) + 1)
    return max(probabilities[first:last], default=0.0)


def sentences(words: list[Word]) -> list[list[Word]]:
    """The words, cut after each word that ends a sentence (".", "!", "?")."""
    out: list[list[Word]] = [[]]
    for w in words:
        out[-1].append(w)
        if w.word.rstrip().endswith((".", "!", "?")):
            out.append([])
    return [s for s in out if s]


def word_levels(samples: np.ndarray, words: list[Word], rate: int, offset: float = 0.0) -> dict[int, float]:
    """Each word's level (mean power in dB over its time), by `id` of the word; `samples` begin at
    `offset` seconds of the word timings' clock."""
    levels = {}
    for w in words:
        first = max(0, int((w.start - offset) * rate))
        piece = samples[first:max(first + rate // 100, int((w.end - offset) * rate))]
        levels[id(w)] = 10.0 * float(np.log10(np.mean(np.square(piece, dtype=np.float64)) + 1e-12)) if len(piece) else -120.0
    return levels


def speaking_level(groups: list[list[Word]], levels: dict[int, float]) -> float | None:
    """How loud the person speaks: the median level of the words outside stock phrases, in each
    group of words (a decoded segment); None with fewer than STOCK_LEVEL_WORDS of them."""
    own = [levels[id(w)] for words in groups for sentence in sentences(words)
           if tuple(normalize_words(" ".join(said.word for said in sentence))) not in STOCK_BEGINNINGS
           for w in sentence if id(w) in levels]
    return float(np.median(own)) if len(own) >= STOCK_LEVEL_WORDS else None


def without_inventions(words: list[Word], probabilities: list[float] | None, frame_seconds: float,
                       offset: float = 0.0, question: str | None = None,
                       levels: dict[int, float] | None = None, usual: float | None = None) -> list[Word]:
    """`words` without what was not said (see the module docstring). `levels`: each word's level
    (`word_levels`), to keep a stock phrase said as loud as the person's other words (`usual`, their
    `speaking_level`; from `words` when not given)."""
    probabilities = probabilities or []
    kept = [w for w in words if support(w, probabilities, frame_seconds, offset) >= MIN_SUPPORT] if probabilities else list(words)
    split = sentences(kept)
    keys = [tuple(normalize_words(" ".join(w.word for w in sentence))) for sentence in split]
    if usual is None and levels:
        usual = speaking_level([kept], levels)
    out: list[Word] = []
    for sentence, key in zip(split, keys):
        if not key:
            continue
        if key in STOCK_BEGINNINGS:
            voiced = all(support(w, probabilities, frame_seconds, offset) >= STOCK_SUPPORT for w in sentence)
            sure = min(w.conf for w in sentence) >= STOCK_CONFIDENCE
            as_loud = usual is not None and levels is not None and min(w.conf for w in sentence) >= STOCK_LEAST_CONFIDENCE \
                and all(levels.get(id(w), -120.0) >= usual - STOCK_LEVEL_DB for w in sentence)
            if not probabilities or not voiced or not (sure or as_loud):
                continue
        out.extend(sentence)
    out = _without_question(out, question)
    return _without_loops(out)


def _without_question(words: list[Word], question: str | None) -> list[Word]:
    asked = normalize_words(question or "")
    if len(asked) < 2:
        return words
    said = [" ".join(normalize_words(w.word)) for w in words]
    out: list[Word] = []
    i = 0
    while i < len(words):
        if said[i : i + len(asked)] == asked:
            i += len(asked)  # the question itself, come back as text
            continue
        out.append(words[i])
        i += 1
    return out


def _without_loops(words: list[Word], times: int = 3) -> list[Word]:
    """A sentence said `times` times or more in a row, kept once."""
    groups = sentences(words)
    keys = [tuple(normalize_words(" ".join(w.word for w in g))) for g in groups]
    out: list[Word] = []
    i = 0
    while i < len(groups):
        j = i
        while j + 1 < len(groups) and keys[j + 1] == keys[i]:
            j += 1
        out.extend(groups[i])
        i = j + 1 if j - i + 1 >= times else i + 1
    return out
