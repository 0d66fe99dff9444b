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
from companion.store.database import Store
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


def wrap_words(words: list[dict], width: int) -> list[list[int]]:
    """The indices of `words`, line by line, wrapped at `width` characters (a word never split)."""
    lines: list[list[int]] = []
    used = 0
    for i, word in enumerate(words):
        size = len(word["word"])
        if lines and used + 1 + size <= width:
            lines[-1].append(i)
            used += 1 + size
        else:
            lines.append([i])
            used = size
    return lines


def window(lines: list[list[int]], index: int | None, height: int) -> tuple[int, int]:
    """The lines to show (first, end) when at most `height` fit: all of them, or those around the
    line holding word `index` (it stays a line or two from the bottom as the words go on)."""
    if len(lines) <= height:
        return 0, len(lines)
    current = next((n for n, line in enumerate(lines) if index is not None and index in line), 0)
    first = min(max(0, current - height + 2), len(lines) - height)
    return first, first + height


def highlighted(words: list[dict], index: int | None, line: list[int] | None = None) -> str:
    """The words (all, or those of one wrapped line), the current one in reverse video."""
    parts = []
    for i in line if line is not None else range(len(words)):
        word = words[i]["word"]
        parts.append(click.style(word, reverse=True, bold=True) if i == index else word)
    return " ".join(parts)


def corrected_words(words: list[dict], text: str) -> list[dict]:
    """The words of a corrected text, with the timings of the recording's words where they still
    align (the same word, or a changed stretch spread over the time it took); a word added has
    the time of the place it was added."""
    import difflib

    new = text.split()
    if not words:
        return [{"word": w, "start": 0.0, "end": 0.0} for w in new]
    old_keys = [" ".join(normalize_words(w["word"])) for w in words]
    new_keys = [" ".join(normalize_words(w)) for w in new]
    out: list[dict] = []
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            out += [dict(words[a], word=new[b]) for a, b in zip(range(a0, a1), range(b0, b1))]
        elif op in ("replace", "insert"):
            if a1 > a0:
                start, end = float(words[a0]["start"]), float(words[a1 - 1]["end"])
            else:  # added: at the end of the word before (or the start of the one after)
                start = end = float(words[a0 - 1]["end"]) if a0 > 0 else float(words[0]["start"])
            step = (end - start) / (b1 - b0)
            out += [{"word": new[b], "start": start + k * step, "end": start + (k + 1) * step}
                    for k, b in enumerate(range(b0, b1))]
    return out


def words_to_show(entry: dict) -> list[dict]:
    """The words a replay shows: the recognised ones, or a correction's, aligned to the recording."""
    words = entry.get("words") or []
    text = (entry.get("text") or "").strip()
    if entry.get("original_text") is not None and text and text.split() != [w["word"] for w in words]:
        return corrected_words(words, text)
    return words


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
        words = words_to_show(entry)
        offset = start_time(words, from_word, at, len(samples) / rate)
        clip = self.speaker.play(samples[int(offset * rate) :], rate)
        begun = time.monotonic()
        shown: list[str] = []
        last = None
        stop = stop or threading.Event()
        self._block = 0
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

    def _show(self, words: list[dict], index: int | None) -> None:
        """In a terminal: the answer wrapped to its width, redrawn in place with the word being heard
        lit. Elsewhere: each word once, as it is heard."""
        if not self.live:
            click.echo(words[index]["word"] + " ", nl=False)
            sys.stdout.flush()
            return
        size = shutil.get_terminal_size((80, 24))
        lines = wrap_words(words, max(20, size.columns - 4))
        first, end = window(lines, index, max(3, size.lines - 3))
        up = f"\r\033[{self._block - 1}A" if self._block > 1 else "\r"
        drawn = "\n".join("\033[K  " + highlighted(words, index, line) for line in lines[first:end])
        click.echo((up if self._block else "") + drawn, nl=False)
        self._block = end - first

    def _end(self, words: list[dict], shown: list[str]) -> None:
        if self.live:
            if self._block:
                self._show(words, None)
                click.echo("")
            else:
                click.echo(textwrap.fill(" ".join(w["word"] for w in words), 78, initial_indent="  ", subsequent_indent="  "))
        elif shown:
            click.echo("")
