"""The `companion` command. Thin: each command parses options and calls a module that does the work."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import click

from companion import __version__, config
from companion.cli_options import (
    ENTRY_ID,
    audio_options,
    engine_options,
    listening_options,
    typed_text,
    voice_options,
)
from companion.errors import CompanionError, StorageError


def load_engine(settings: config.Settings):
    from companion.speech import models

    return models.load(models.choose(settings.engine, settings.model))


@click.group()
@click.version_option(__version__, prog_name="companion")
def cli() -> None:
    """Companion: a private, offline voice companion for the days between therapy sessions.

    Companion is not a therapist and cannot help in a crisis. Everything stays on this computer.
    """


@cli.command()
@engine_options
@audio_options
@voice_options
@listening_options
@click.option("--prompt", "prompts", multiple=True, help="Ask this question instead (repeat for several).")
@click.option("--no-crisis-note", is_flag=True, help="Do not add the note about crisis support.")
def reflect(no_crisis_note: bool, **options) -> None:
    """Reflect after a session: answer a few spoken questions in your own words."""
    from companion.audio.capture import Microphone
    from companion.audio.playback import Speaker
    from companion.reflect import Reflection
    from companion.storage import Store
    from companion.ui import Terminal
    from companion.voice import Voice, VoiceSettings

    if no_crisis_note:
        os.environ["COMPANION_CRISIS_NOTE"] = "0"  # read by companion.care for this run
    for prompt in options.get("prompts") or ():
        typed_text(prompt, "the question given with --prompt", limit=1000, nothing="nothing was recorded")
    settings = config.merged(config.load(), **options)
    with Store.open() as store:
        engine = load_engine(settings)
        voice = Voice(VoiceSettings(settings.voice, settings.rate, settings.volume))
        with Microphone(settings.input_device) as mic, Speaker(settings.output_device) as speaker:
            Reflection(store, engine, mic, speaker, voice, settings, Terminal()).run()


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@engine_options
def import_(files: tuple[Path, ...], **options) -> None:
    """Transcribe and keep reflections recorded elsewhere (WAV, FLAC, OGG, MP3)."""
    from companion.importer import decode, import_recording, shown_name
    from companion.storage import Store

    for path in files:  # check every file before storing anything
        decode(path)
    settings = config.merged(config.load(), **options)
    with Store.open() as store:
        engine = load_engine(settings)
        for path in files:
            result = import_recording(store, engine, path)
            click.echo(f"#{result.entry_id}  {shown_name(path)}  ({result.duration:.0f} s)")
            click.echo(f"  {result.text or '(no words recognised; the audio is kept)'}")


@cli.command("list")
@click.option("--kind", type=click.Choice(["reflection", "ripple", "checkin"]))
@click.option("--limit", type=int, default=None, help="Show only the most recent N.")
def list_(kind: str | None, limit: int | None) -> None:
    """What you have said, most recent last."""
    from companion.present import entry_line
    from companion.storage import Store

    with Store.open(reading=True) as store:
        entries = store.list_entries(kind=kind)
    if limit:
        entries = entries[-limit:]
    if not entries:
        click.echo("Nothing stored yet. `companion reflect` begins a reflection.")
    for entry in entries:
        click.echo(entry_line(entry))


@cli.command()
@click.argument("entry_id", type=ENTRY_ID)
def show(entry_id: int) -> None:
    """One entry, whole, with its transcript."""
    from companion.present import entry_detail
    from companion.storage import Store

    with Store.open(reading=True) as store:
        click.echo(entry_detail(store.get_entry(entry_id), store))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["markdown", "json", "html", "srt", "vtt"]), default="markdown",
              show_default=True, help="markdown to read or share, json complete, html one page with recordings, "
              "srt/vtt captions of one answer (--id).")
@click.option("--id", "entry_id", type=ENTRY_ID, help="The answer to caption (srt, vtt).")
@click.option("--since", help="Only from this date on, e.g. 2026-11-01 (markdown, html).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of printing.")
def export(fmt: str, entry_id: int | None, since: str | None, output: Path | None) -> None:
    """What you said, to keep or to bring to your therapist."""
    from companion import export as exporting
    from companion.sessions import parse_moment
    from companion.storage import Store

    if fmt in ("srt", "vtt") and entry_id is None:
        raise CompanionError(f"{fmt} captions are for one answer", f"add --id, e.g. `companion export --format {fmt} --id 12`")
    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    with Store.open(reading=True) as store:
        if fmt == "json":
            text = json.dumps(exporting.export_json(store), indent=2, ensure_ascii=False) + "\n"
        elif fmt == "markdown":
            text = exporting.export_markdown(store, since_iso)
        elif fmt == "html":
            text = exporting.export_html(store, since_iso)
        else:
            text = exporting.entry_captions(store.get_entry(entry_id), fmt)
    if output:
        try:
            output.write_text(text, encoding="utf-8")  # private: the process umask is 0o077
        except OSError as e:
            raise CompanionError(f"cannot write the export to {output}: {e.strerror or e}",
                                 "choose a file in a folder that exists and that you can write to; nothing stored was changed") from None
        click.echo(f"Written to {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("destination", required=False, type=click.Path(path_type=Path))
def backup(destination: Path | None) -> None:
    """Write a consistent copy of the database (safe while Companion is in use)."""
    from companion import backup as backups
    from companion.paths import database_path

    made = backups.backup_database(database_path(), destination or backups.new_backup_path())
    click.echo(f"Backed up to {made}")


@cli.command()
@click.option("--change-passphrase", is_flag=True,
              help="Re-encrypt everything under a new passphrase (the current one is asked first; "
                   "the new one twice, or COMPANION_NEW_PASSPHRASE).")
def encrypt(change_passphrase: bool) -> None:
    """Encrypt the database, recordings and backups with a passphrase (asked twice, or COMPANION_PASSPHRASE)."""
    from companion.encrypt import encrypt_folder
    from companion.paths import data_dir

    if change_passphrase:
        _change_passphrase(data_dir())
        return
    done = encrypt_folder(data_dir())
    kept = ["the database" if done.database else "", f"{done.recordings} recording(s)" if done.recordings else "",
            f"{done.backups} backup(s)" if done.backups else ""]
    what = ", ".join(k for k in kept if k) or "nothing more (everything was encrypted already)"
    click.echo(f"Encrypted in {done.folder}: {what}.")
    if done.turned_on:
        click.echo("From now on Companion asks for your passphrase (or reads COMPANION_PASSPHRASE).\n"
                   "Keep it safe: without it nothing can be read, and it cannot be recovered or reset.")


def _change_passphrase(folder: Path) -> None:
    from companion.encrypt import change_passphrase

    done = change_passphrase(folder)
    kept = ["the database" if done.database else "", f"{done.recordings} recording(s)" if done.recordings else "",
            f"{done.backups} backup(s)" if done.backups else ""]
    click.echo(f"The new passphrase now opens {', '.join(k for k in kept if k) or 'everything'} in {done.folder}; "
               "the old one no longer does.")
    for path in done.skipped:
        click.echo(f"Left as it was (the old passphrase did not open it): {path}")
    click.echo("Copies made before now (exports, backups kept elsewhere) still open with the old passphrase.")


@cli.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """Speech models: what is installed and which engine is active."""
    if ctx.invoked_subcommand:
        return
    from companion.speech import models as m

    settings = config.load()
    vosk_models = m.installed_vosk_models()
    embedded = m.embedded_model()
    for info in vosk_models:
        click.echo(f"vosk     {info.name}  {info.path}")
    click.echo(f"whisper  {embedded.name}  {embedded.path}" if embedded else "whisper  (embedded model not installed)")
    try:
        active = m.choose(settings.engine, settings.model)
        click.echo(f"\nActive: {active.engine} ({active.name})")
    except CompanionError as e:
        click.echo(f"\nActive: none - {e}")


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


@cli.command()
@engine_options
@audio_options
@voice_options
def doctor(**options) -> None:
    """Check microphone, speaker, voice, speech engine and database, and say what to fix."""
    from companion.audio import devices
    from companion.doctor import run_checks

    settings = config.merged(config.load(), **options)
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


def _register_command_modules() -> None:
    from companion import cli_ground, cli_notice

    for command in (*cli_ground.COMMANDS, *cli_notice.COMMANDS):
        cli.add_command(command)


_register_command_modules()


def _click_error_line(e: click.ClickException) -> str:
    """A click error (unknown option, bad value, missing argument) as Companion's one line with a hint."""
    message = " ".join(e.format_message().split())
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
    from companion.native import keep_native_stderr_apart

    keep_native_stderr_apart()
    try:
        cli(standalone_mode=False)
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
            from companion.storage import damaged_database

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
