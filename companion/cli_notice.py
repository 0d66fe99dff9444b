"""Commands for noticing and review (issue 4): `ripple`, `checkin`, `session`, `review`, `play`, `search`, ..."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
