"""Commands for guided grounding practices (issue 3): `practices`, `ground`."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
