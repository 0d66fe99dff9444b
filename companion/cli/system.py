"""Commands for setting up: `doctor` (check everything) and `models` (speech models)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from companion.cli.options import (
    audio_options,
    engine_options,
    settings_for,
    voice_options,
)
from companion.errors import CompanionError


@click.command()
@engine_options
@audio_options
@voice_options
def doctor(**options) -> None:
    """Check microphone, speaker, voice, speech and database."""
    from companion.audio import devices
    from companion.doctor import run_checks

    settings = settings_for((), **options)
    checks = run_checks(settings)
    for check in checks:
        mark = click.style("ok  ", fg="green") if check.ok else click.style("fix ", fg="red")
        click.echo(f"{mark} {check.name:<10} {check.detail}")
        if check.fix:
            click.echo(f"     {'':<10} -> {check.fix}")
    try:
        click.echo("\nAudio devices:")
        for d in devices.list_devices():
            click.echo(f"  #{d['index']:<3} {d['name']}  (in {d['max_input_channels']}, out {d['max_output_channels']}, {int(d['default_samplerate'])} Hz)")
    except CompanionError as e:
        click.echo(f"  {e}")
    if not all(c.ok for c in checks):
        sys.exit(1)

@click.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """Speech models: which are installed, and which is used."""
    if ctx.invoked_subcommand:
        return
    from companion.speech import models as m

    settings = settings_for(())
    vosk_models = m.installed_vosk_models()
    embedded = m.embedded_model()
    for info in vosk_models:
        click.echo(f"vosk     {info.name}  (in {info.path.parent})")
    click.echo(f"whisper  {m.EMBEDDED_MODEL}  (built in: installed with Companion)" if embedded
               else "whisper  (the built-in model is not installed; scripts/setup.sh installs it)")
    from companion.speech import whisper_base

    have_base = whisper_base.installed()
    click.echo(f"whisper  {whisper_base.NAME}  (for final text: installed)" if have_base
               else f"whisper  ({whisper_base.NAME}, for final text, is not installed: scripts/setup.sh installs it)")
    try:
        settings.check("engine", "model", "final_model")
        active = m.choose(settings.engine, settings.model)
        writes = settings.final_model != "same" and (have_base or "final_model" in settings.given)
        final = f"; final text by {settings.final_model}" if active.engine == "whisper" and writes else ""
        click.echo(f"\nIn use: {active.engine}, {active.name}{final}")
    except CompanionError as e:
        click.echo(f"\nIn use: none - {e.message}. {e.hint}")

@models.command("install")
@click.argument("name", required=False)
@click.option("--from", "archive", type=click.Path(path_type=Path), help="Install from a model .zip copied by hand.")
@click.option("--sha256", help="Expected SHA-256 of the zip, checked before installing.")
def models_install(name: str | None, archive: Path | None, sha256: str | None) -> None:
    """Install a vosk model by NAME (downloads it) or --from a local zip."""
    import tempfile

    from companion.speech import install

    if not name and not archive:
        raise CompanionError("say which model to install", f"e.g. `companion models install {install.SUGGESTED}`")
    if archive is None:
        with tempfile.TemporaryDirectory() as tmp:
            with click.progressbar(length=1, label=f"Downloading {name}") as bar:
                def progress(done: int, total: int) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                zip_path = install.download(name, Path(tmp) / f"{name}.zip", progress)
            installed = install.install_zip(zip_path, sha256)
    else:
        installed = install.install_zip(archive, sha256)
    click.echo(f"Installed {installed.name} in {installed}. It is used from now on (vosk).")


COMMANDS: list[click.Command] = [doctor, models]
