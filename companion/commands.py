"""Pure matching of spoken control words ("next", "skip", "I'm done") at the end of an utterance."""

from __future__ import annotations

from companion.events import Word
from companion.textnorm import normalize_words

ANSWER_COMMANDS: dict[str, list[tuple[str, ...]]] = {
    "next": [("next",), ("next", "question")],
    "skip": [("skip",), ("skip", "this"), ("skip", "it")],
    "done": [("i'm", "done"), ("i", "am", "done"), ("im", "done"), ("that's", "all")],
}


def _norm(word: Word) -> str:
    words = normalize_words(word.word)
    return " ".join(words)


def split_trailing_command(words: list[Word], commands: dict[str, list[tuple[str, ...]]] = ANSWER_COMMANDS) -> tuple[list[Word], str | None]:
    """If the words end with a command phrase, return (the words before it, the command)."""
    normalized = [_norm(w) for w in words]
    best: tuple[int, str] | None = None
    for command, phrases in commands.items():
        for phrase in phrases:
            n = len(phrase)
            if n <= len(normalized) and tuple(normalized[-n:]) == phrase and (best is None or n > best[0]):
                best = (n, command)
    if best is None:
        return words, None
    return words[: len(words) - best[0]], best[1]
