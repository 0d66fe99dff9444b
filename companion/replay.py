"""Replay: the person's own recorded voice, with each word highlighted in the terminal as it is heard.

`start_time`, `current_word` and `highlighted` are pure; `Replay.play` does the audio and the terminal.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading
import time
from dataclasses import dataclass

import click
import numpy as np

from companion.audio import files as audio_files
from companion.audio.playback import Speaker
from companion.errors import CompanionError, InputFileError
from companion.storage import Store
from companion.textnorm import normalize_words

TICK = 0.03  # seconds between terminal updates


def start_time(words: list[dict], from_word: str | None = None, at: float | None = None, duration: float | None = None) -> float:
    """Where to begin: at a second, or at the first place the words `from_word` are said."""
    if from_word is not None:
        wanted = normalize_words(from_word)
        said = [" ".join(normalize_words(w["word"])) for w in words]
        for i in range(len(said) - len(wanted) + 1):
            if wanted and said[i : i + len(wanted)] == wanted:
                return max(0.0, float(words[i]["start"]) - 0.15)
        raise CompanionError(f"'{from_word}' was not found in this recording's words",
                             "`companion show ID` shows what was said; or start at a second with --at")
    if at is not None:
        if at < 0 or (duration is not None and at >= duration):
            limit = f" (it is {duration:.1f} s long)" if duration is not None else ""
            raise CompanionError(f"--at {at:g} is outside the recording{limit}", "give a second within it")
        return float(at)
    return 0.0


def current_word(words: list[dict], t: float) -> int | None:
    """Index of the word being said at `t` seconds (the last one started, while it lasts or until the next)."""
    index = None
    for i, word in enumerate(words):
        if word["start"] <= t:
            index = i
        else:
            break
    return index


def visible_range(words: list[dict], index: int, width: int) -> tuple[int, int]:
    """The slice of words around `index` that fits in `width` characters (for a one-line display)."""
    first = last = index
    used = len(words[index]["word"])
    while True:
        grown = False
        if last + 1 < len(words) and used + 1 + len(words[last + 1]["word"]) <= width:
            last += 1
            used += 1 + len(words[last]["word"])
            grown = True
        if first > 0 and used + 1 + len(words[first - 1]["word"]) <= width and index - first < 4:
            first -= 1
            used += 1 + len(words[first]["word"])
            grown = True
        if not grown:
            return first, last + 1


def highlighted(words: list[dict], index: int | None, width: int | None = None) -> str:
    """The words (all, or those around the current one that fit `width`), the current one in reverse video."""
    start, end = (0, len(words)) if width is None or index is None else visible_range(words, index, width)
    parts = []
    for i in range(start, end):
        word = words[i]["word"]
        parts.append(click.style(word, reverse=True, bold=True) if i == index else word)
    return " ".join(parts)


@dataclass
class Played:
    started: float  # time.monotonic() when the audio began leaving the speaker (estimated)
    offset: float  # seconds into the recording it started from
    seconds: float  # how much was played
    words_shown: list[str]  # words highlighted, in order


class Replay:
    """Plays one entry's recording on `speaker`, highlighting words as they are heard."""

    def __init__(self, store: Store, speaker: Speaker | None, live: bool | None = None) -> None:
        self.store, self.speaker = store, speaker
        self.live = sys.stdout.isatty() if live is None else live

    def load(self, entry: dict) -> tuple[np.ndarray, int]:
        path = self.store.audio_path(entry)
        if path is None:
            raise CompanionError(f"entry {entry['id']} has no recording (it was typed)", "`companion show ID` shows its text")
        if not path.is_file():
            raise InputFileError(f"the recording of entry {entry['id']} is missing ({path})",
                                 "it may have been moved; its text is still kept")
        return audio_files.read_samples(path)  # encrypted or not

    def play(self, entry: dict, from_word: str | None = None, at: float | None = None,
             stop: threading.Event | None = None) -> Played:
        """Play from the start, a second or a word; returns early (sound stopped) when `stop` is set."""
        samples, rate = self.load(entry)
        words = entry.get("words") or []
        offset = start_time(words, from_word, at, len(samples) / rate)
        clip = self.speaker.play(samples[int(offset * rate) :], rate)
        begun = time.monotonic()
        shown: list[str] = []
        last = None
        stop = stop or threading.Event()
        while not clip.done.is_set():
            if stop.wait(TICK):
                self.speaker.silence()
                break
            heard = offset + max(0.0, clip.position / self.speaker.rate - self.speaker.latency)
            index = current_word(words, heard)
            if index is not None and index != last and words[index]["start"] >= offset - 0.2:
                last = index
                shown.append(words[index]["word"])
                self._show(words, index)
        self.speaker.wait(clip, timeout=0)
        if not stop.is_set():
            time.sleep(self.speaker.latency)
        self._end(words, shown)
        return Played(begun, offset, clip.position / self.speaker.rate, shown)

    def _show(self, words: list[dict], index: int) -> None:
        if self.live:
            width = shutil.get_terminal_size((80, 20)).columns - 4
            click.echo("\r\033[K  " + highlighted(words, index, width), nl=False)
        else:
            click.echo(words[index]["word"] + " ", nl=False)
            sys.stdout.flush()

    def _end(self, words: list[dict], shown: list[str]) -> None:
        if self.live:
            click.echo("\r\033[K", nl=False)
            click.echo(textwrap.fill(" ".join(w["word"] for w in words), 78, initial_indent="  ", subsequent_indent="  "))
        elif shown:
            click.echo("")
