"""The `companion` command: the group, its help in sections by what a person does, and one calm line
for every error. Each command lives in the module of its capability and only parses and calls."""

from __future__ import annotations

import os
import sqlite3
import sys

import click

from companion import __version__
from companion.errors import CompanionError, Stopped, StorageError

SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Hands-free", ("listen",)),
    ("Reflect", ("reflect", "import")),
    ("Ground", ("ground", "practices")),
    ("Notice", ("ripple", "checkin", "session")),
    ("Review", ("review", "page", "play", "list", "show", "search")),
    ("Your data", ("edit", "delete", "forget", "export", "import-json", "backup", "encrypt")),
    ("Set-up", ("doctor", "models", "voices", "say", "serve")),
]
"""`companion --help` groups the commands by what a person does, in this order."""

EVERYDAY = (
    ("reflect", "after a session: a few spoken questions, answered in your own words"),
    ("ground", "a short guided practice for the body, led by voice"),
    ("ripple", "keep a small shift you noticed"),
    ("checkin", "how your body feels right now, in a word or two"),
    ("review", "before your next session: what you said since the last one"),
)
GREETING = "Hello. Companion is here for the days between your therapy sessions."


class CompanionGroup(click.Group):
    """Commands listed in sections by what a person does (SECTIONS); any other command at the end."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        placed = {name for _, members in SECTIONS for name in members}
        sections = [(title, [n for n in members if n in names]) for title, members in SECTIONS]
        sections.append(("Other", [n for n in names if n not in placed]))
        width = max((len(n) for n in names), default=0)
        limit = max(30, (formatter.width or 80) - width - 6)
        for title, members in sections:
            rows = [(name.ljust(width), self.get_command(ctx, name).get_short_help_str(limit)) for name in members
                    if not self.get_command(ctx, name).hidden]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

def greeting() -> str:
    """What `companion` alone shows: a greeting and the everyday commands."""
    width = max(len(name) for name, _ in EVERYDAY)
    lines = [GREETING, ""]
    lines += [f"  companion {name:<{width}}   {what}" for name, what in EVERYDAY]
    lines += ["", "`companion --help` shows everything else. Companion is not a therapist and cannot help in a crisis."]
    return "\n".join(lines)

@click.group(cls=CompanionGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="companion")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Companion: a private, offline voice companion for the days between therapy sessions.

    Companion is not a therapist and cannot help in a crisis. Everything stays on this computer.
    """
    if ctx.invoked_subcommand is None:
        click.echo(greeting())


def _register_commands() -> None:
    from companion.cli import data, listen, notice, practice, reflect, review, serve, system, voice

    for module in (listen, reflect, practice, notice, review, data, system, voice, serve):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def _plain_click_message(message: str) -> str:
    """click's wording of a wrong choice or a missing argument, in a person's words."""
    import re

    choice = re.match(r"Invalid value for '(--[\w-]+)': '(.*)' is not one of (.*)\.$", message)
    if choice:
        options = [o.strip().strip("'") for o in choice.group(3).split(",")]
        listed = ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
        return f"{choice.group(1)} takes {listed}, not '{choice.group(2)}'"
    missing = re.match(r"Missing argument '([\w-]+)'\.?$", message)
    if missing:
        what = {"ENTRY_ID": "an entry id (`companion list` shows them)"}.get(missing.group(1), missing.group(1).lower())
        return f"this command needs {what}"
    return message

def _click_error_line(e: click.ClickException) -> str:
    """A click error (unknown option, bad value, missing argument) as Companion's one line with a hint."""
    message = _plain_click_message(" ".join(e.format_message().split()))
    message += "" if message.endswith((".", "?", "!")) else "."
    hint = getattr(e, "hint", None)
    if hint is None:
        ctx, names = getattr(e, "ctx", None), []
        while ctx is not None and ctx.parent is not None:
            names.append(ctx.info_name)
            ctx = ctx.parent
        command = " ".join(["companion", *reversed(names)])
        hint = f"`{command} --help` shows what it takes" if names else "`companion --help` lists the commands"
    return f"Error: {message} Hint: {hint}"

def main() -> None:
    """Entry point: private files by default, and errors as one calm line, never a traceback."""
    os.umask(0o077)
    from companion.native_libs import keep_native_stderr_apart, map_large_allocations_apart

    keep_native_stderr_apart()
    map_large_allocations_apart()
    try:
        cli(prog_name="companion", standalone_mode=False)
    except Stopped as e:
        click.echo(f"\n{e.message}", err=True)
        sys.exit(e.exit_code)
    except CompanionError as e:
        click.echo(f"Error: {e.message}" + (f". Hint: {e.hint}" if e.hint else ""), err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("\nStopped. Anything already said is kept.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("\nStopped. Anything already said is kept.", err=True)
        sys.exit(130)
    except click.ClickException as e:  # a mistyped option or argument: one line too, with where to look
        click.echo(_click_error_line(e), err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except OSError as e:
        if os.environ.get("COMPANION_DEBUG"):
            raise
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        click.echo(f"Error: {e.strerror or e}{where}. Hint: check free disk space and permissions; nothing stored earlier is lost", err=True)
        sys.exit(1)
    except Exception as e:  # a bug: still one line, with a way to see the details
        if os.environ.get("COMPANION_DEBUG"):
            raise
        if isinstance(e, sqlite3.DatabaseError) and "malformed" in str(e):
            from companion.paths import database_path
            from companion.store.damage import damaged_database

            error = damaged_database(database_path(), str(e))
            click.echo(f"Error: {error.message}. Hint: {error.hint}", err=True)
            sys.exit(error.exit_code)
        if isinstance(e, sqlite3.OperationalError) and "full" in str(e):
            click.echo("Error: the disk is full. Hint: free some space; nothing stored earlier is lost", err=True)
            sys.exit(StorageError.exit_code)
        if isinstance(e, UnicodeEncodeError) and "surrogates" in str(e):  # bytes that are not UTF-8 text
            click.echo("Error: some of the text given is not valid UTF-8. Hint: set your terminal to UTF-8 "
                       "(for example LANG=C.UTF-8) and try again; nothing stored earlier is lost", err=True)
            sys.exit(1)
        click.echo(f"Error: something unexpected went wrong ({type(e).__name__}: {e}). Hint: run again with COMPANION_DEBUG=1 to see details", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
