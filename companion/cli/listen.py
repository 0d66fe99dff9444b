"""`companion listen`: hands-free, waiting quietly for the wake name."""

from __future__ import annotations

import click

from companion import config
from companion.cli.options import audio_options, engine_options, final_model_for, settings_for, voice_for, voice_options
from companion.errors import CompanionError


@click.command()
@click.option("--name", help='The wake name to wait for (default "Companion"; [listen] name in the config file).')
@click.option("--install", "install_unit", is_flag=True, help="Write a login service (systemd user unit) that runs the listener.")
@click.option("--uninstall", "uninstall_unit", is_flag=True, help="Remove that login service.")
@click.option("--once", is_flag=True, hidden=True)
@engine_options
@audio_options
@voice_options
def listen(name: str | None, install_unit: bool, uninstall_unit: bool, once: bool, **options) -> None:
    """Wait quietly for "Companion", then do what you ask.

    Say the name, hear "Yes?", and ask in your own words: "help me ground", "breathe with me for
    five minutes", "I noticed I didn't apologise today", "check in", "I want to reflect", "what did
    I say since my session". Or say it all in one breath: "Companion, help me ground".
    While waiting, nothing you say is kept or sent anywhere.
    """
    from companion.listen import service

    if install_unit and uninstall_unit:
        raise CompanionError("--install and --uninstall ask for opposite things", "choose one of them")
    if install_unit:
        path = service.install()
        click.echo(f"Wrote {path}.")
        click.echo(f"To start it now and at every login: {service.ENABLE_HINT}")
        return
    if uninstall_unit:
        if service.uninstall():
            click.echo(f"Removed {service.unit_path()}. If it was running: {service.DISABLE_HINT}")
        else:
            click.echo(f"There was no service file at {service.unit_path()}.")
        return
    if name is not None and not config.names_a_word(name):
        raise CompanionError(f"'{name}' holds no word to listen for", 'give a name, e.g. --name "Companion"')
    settings = settings_for(config.ALL, **options, **({"name": name} if name else {}))
    _run(settings, once)


def _run(settings: config.Settings, once: bool) -> None:
    from companion.listen.listener import Listener
    from companion.listen.lock import single_listener
    from companion.speech import models
    from companion.speech.base import LoadingEngine
    from companion.store.database import Store
    from companion.terminal import Terminal

    with single_listener():
        voice = voice_for(settings)
        info = models.choose(settings.engine, settings.model)
        engine = models.load(info)
        final = final_model_for(settings, info)

        def answers_engine():
            """The engine of a flow that keeps answers: with the final-text model, loaded once the
            flow's first phrases are rendered and the voice's model let go (the listening model is shared)."""
            if final is None:
                return engine

            def load_final():
                voice.wait_ready()
                return models.load(info, final, sharing=engine)

            return LoadingEngine(load_final)

        with Store.open() as store:
            listener = Listener(settings, engine, voice, store, Terminal(), settings.name, answers_engine)
            listener.open()
            try:
                listener.run(once=once)
            finally:
                voice.settle()
                listener.close()


COMMANDS: list[click.Command] = [listen]
