"""Commands that let other voice assistants reach Companion: `serve wyoming` (Home Assistant Assist)."""

from __future__ import annotations

import click

from companion.errors import CompanionError

EXTRA_HINT = "install it with pip install 'companion[wyoming]' (or scripts/setup.sh --extras wyoming)"


@click.group()
def serve() -> None:
    """Let another voice assistant reach Companion (Home Assistant: wyoming)."""


@serve.command()
@click.option("--uri", default=None, metavar="URI",
              help="Where to listen: tcp://127.0.0.1:10700 (the default) or unix://PATH.")
@click.option("--allow-remote", is_flag=True,
              help="Listen on an address other computers can reach (off by default).")
def wyoming(uri: str | None, allow_remote: bool) -> None:
    """Answer Home Assistant Assist as its conversation agent, over Wyoming.

    Ripples, check-ins, reflections and sessions said to Home Assistant are kept in your journal
    (as heard by Home Assistant, without audio). Listens on this computer only unless --allow-remote.
    """
    import asyncio

    from companion.assistants.wyoming.address import DEFAULT_URI, exposure, parse_address

    address = parse_address(uri or DEFAULT_URI, allow_remote)
    try:
        from companion.assistants.wyoming import server
    except ImportError as e:
        if (e.name or "").split(".")[0] != "wyoming":
            raise
        raise CompanionError("the Home Assistant (Wyoming) extra is not installed", EXTRA_HINT) from None
    from companion.assistants.wyoming.service import Companion
    from companion.cli.options import settings_for

    questions = settings_for(("prompts",)).prompts
    _unlock_or_note()
    if address.remote:
        click.echo(exposure(address), err=True)

    def note(line: str) -> None:
        click.echo(f"Note: {line}.", err=True)

    def ready() -> None:
        click.echo(f"Companion is answering Home Assistant on {address.uri}. Ctrl-C stops it.", err=True)

    companion = Companion(questions, note=note)
    try:
        asyncio.run(server.serve(address, companion, ready, note))
    except OSError as e:
        raise CompanionError(f"cannot listen on {address.uri}: {e.strerror or e}",
                             "is another `companion serve wyoming` running? choose another port with --uri") from None
    finally:
        companion.close()


def _unlock_or_note() -> None:
    """Encrypted data is unlocked now (asked for on a terminal); without a passphrase the service still
    answers, and says it cannot keep anything, until started with one."""
    import sys

    from companion.errors import PassphraseError
    from companion.store import crypto

    try:
        crypto.unlock()
    except PassphraseError as e:
        if sys.stdin.isatty():  # a wrong passphrase typed: stop, as every command does
            raise
        click.echo(f"Note: {e.message}; nothing can be kept until Companion is started with "
                   f"{crypto.ENV_PASSPHRASE} set.", err=True)


COMMANDS = [serve]
