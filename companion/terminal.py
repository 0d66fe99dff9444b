"""What the person sees in the terminal: questions, the live transcript, gentle status lines."""

from __future__ import annotations

import shutil
import sys
import textwrap

import click


def ask(question: str) -> str | None:
    """Ask on the terminal and return the line typed (None at the end of input).

    The question is written to standard output, never through `input()`: Python writes an
    `input()` prompt to file descriptor 2, where native libraries' chatter is kept apart
    (companion.native_libs), so in a terminal it would not be seen."""
    click.echo(question.rstrip() + " ", nl=False)  # echo flushes
    line = sys.stdin.readline()
    if not line:
        click.echo("")
        return None
    return line.rstrip("\r\n")


def confirm(question: str) -> bool:
    """A yes/no question on the terminal; only "y" or "yes" is yes (Enter, or the end of input, is no)."""
    answer = ask(f"{question} [y/N]:")
    return answer is not None and answer.strip().lower() in ("y", "yes")


def wrapped(text: str) -> str:
    """`text` wrapped at words to the terminal's width (a long line keeps its indent), so the
    terminal never cuts a word in two."""
    width = shutil.get_terminal_size((80, 20)).columns - 1
    return "\n".join(textwrap.fill(line, width, subsequent_indent=line[: len(line) - len(line.lstrip())])
                     if len(line) > width else line for line in text.splitlines())


class Terminal:
    def __init__(self, live: bool | None = None) -> None:
        self.live = sys.stdout.isatty() if live is None else live
        self._partial_shown = False

    def _fit(self, text: str) -> str:
        return wrapped(text) if self.live else text

    def say(self, text: str) -> None:
        self._clear_partial()
        click.echo(self._fit(text))

    def question(self, number: int, total: int, text: str) -> None:
        self._clear_partial()
        click.echo("")
        click.secho(self._fit(f"({number}/{total}) {text}"), bold=True)

    def listening(self) -> None:
        click.secho("  (listening - take your time)", dim=True)

    def partial(self, text: str) -> None:
        """Show the live, unstable transcript on one line that keeps being rewritten."""
        if not self.live:
            return
        width = shutil.get_terminal_size((80, 20)).columns - 4
        shown = text if len(text) <= width else "…" + text[-(width - 1) :]
        click.echo("\r\033[K  " + click.style(shown, dim=True), nl=False)
        self._partial_shown = True

    def final(self, text: str) -> None:
        self._clear_partial()
        click.echo(self._fit("  " + text))

    def _clear_partial(self) -> None:
        if self._partial_shown:
            click.echo("\r\033[K", nl=False)
            self._partial_shown = False


class StatusLine:
    """A line of status kept at the bottom of a terminal and rewritten in place (shown only in a
    terminal); `say` prints a line above it."""

    def __init__(self, live: bool | None = None) -> None:
        self.live = sys.stdout.isatty() if live is None else live
        self._shown = ""

    def status(self, text: str) -> None:
        """Show `text` as the status (an empty text clears it)."""
        if not text:
            self.clear()
        elif self.live and text != self._shown:
            width = shutil.get_terminal_size((80, 20)).columns - 3
            click.echo("\r\033[K  " + click.style(text[:width], dim=True), nl=False)
            self._shown = text

    def say(self, text: str) -> None:
        shown = self._shown
        self.clear()
        click.echo(wrapped(text) if self.live else text)
        if shown:
            self.status(shown)

    def clear(self) -> None:
        if self._shown:
            click.echo("\r\033[K", nl=False)
            self._shown = ""
