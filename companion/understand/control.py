"""Pure matching of the spoken control words of an answer ("next", "skip", "I'm done").

A control word counts only as an utterance of its own: said alone, as a sentence of its own at the
end ("...this morning. I'm done."), or after a clear pause. "I am nervous about what happens next"
is an answer, not a command.
"""

from __future__ import annotations

from companion.events import Word
from companion.textnorm import normalize_words

HEARD_AS_NEXT = [("see", "you", "next", "time"), ("i'll", "see", "you", "next", "time"),
                 ("we'll", "see", "you", "next", "time")]
"""A lone "Next." as Whisper sometimes writes it: the end of a video ("I'll see you next time.")."""
ANSWER_COMMANDS: dict[str, list[tuple[str, ...]]] = {
    "next": [("next",), ("next", "question"), *HEARD_AS_NEXT],
    "skip": [("skip",), ("skip", "this"), ("skip", "it")],
    "done": [("i'm", "done"), ("i", "am", "done"), ("im", "done"), ("that's", "all")],
}
OWN_PAUSE = 0.3
"""Seconds of quiet before a control word at the end of an utterance that make it one of its own."""
FILLERS = {"um", "uh", "erm", "okay", "ok", "so", "and", "well", "please", "thanks", "thank", "you"}


def _norm(word: Word) -> str:
    words = normalize_words(word.word)
    return " ".join(words)


def _without_fillers(words: list[str]) -> tuple[str, ...]:
    return tuple(w for w in words if w not in FILLERS)


def split_trailing_command(words: list[Word], commands: dict[str, list[tuple[str, ...]]] = ANSWER_COMMANDS,
                           own_pause: float = OWN_PAUSE) -> tuple[list[Word], str | None]:
    """(the words to keep, the command) for one utterance: the command when the utterance is only a
    command phrase (fillers such as "okay" or "please" aside), or when it ends with one as a
    sentence of its own or after a pause of `own_pause` seconds; otherwise every word is kept and
    there is no command."""
    normalized = [_norm(w) for w in words]
    whole = _without_fillers(normalized)
    for command, phrases in commands.items():
        if whole in phrases or tuple(normalized) in phrases:
            return [], command
    best: tuple[int, str] | None = None
    for command, phrases in commands.items():
        for phrase in phrases:
            n = len(phrase)
            if n < len(normalized) and tuple(normalized[-n:]) == phrase and (best is None or n > best[0]):
                best = (n, command)
    if best is None:
        return words, None
    n = best[0]
    before = words[-n - 1]
    own_sentence = before.word.rstrip().endswith((".", "!", "?"))
    if not own_sentence and words[-n].start - before.end < own_pause:
        return words, None  # part of the sentence ("...what happens next")
    return words[: len(words) - n], best[1]
