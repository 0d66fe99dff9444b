"""What the person sees in the terminal: questions, the live transcript, gentle status lines."""

from __future__ import annotations

import shutil
import sys

import click


class Terminal:
    def __init__(self, live: bool | None = None) -> None:
        self.live = sys.stdout.isatty() if live is None else live
        self._partial_shown = False

    def say(self, text: str) -> None:
        self._clear_partial()
        click.echo(text)

    def question(self, number: int, total: int, text: str) -> None:
        self._clear_partial()
        click.echo("")
        click.secho(f"({number}/{total}) {text}", bold=True)

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
        click.echo("  " + text)

    def _clear_partial(self) -> None:
        if self._partial_shown:
            click.echo("\r\033[K", nl=False)
            self._partial_shown = False
