"""Commands for a person's data: `edit`, `delete`, `forget`, `export`, `import-json`, `backup`, `encrypt`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from companion import config
from companion.cli.options import (
    ENTRY_ID,
    audio_options,
    command_settings,
    engine_options,
    listening_options,
    spoken_io,
    store_for_reading,
    typed_text,
    voice_options,
)
from companion.errors import CompanionError, InputFileError


@click.command()
@click.argument("entry_id", type=ENTRY_ID)
@click.option("--text", help="The corrected text (without it, your editor opens).")
def edit(entry_id: int, text: str | None) -> None:
    """Correct an entry's words; the original is kept beside them."""
    from companion.store.database import Store

    with Store.open() as store:
        entry = store.get_entry(entry_id)
        if text is None:
            try:
                text = click.edit(entry["text"] or "", require_save=True)
            except UnicodeDecodeError as e:
                raise CompanionError(f"the editor saved the text in another encoding than UTF-8 (the byte 0x{e.object[e.start]:02x})",
                                     "set your editor to save UTF-8 and try again; nothing was changed") from None
            if text is None:
                click.echo("Nothing changed.")
                return
            what = "the corrected text"
        else:
            what = "the text after --text"
        typed_text(text, what, nothing="nothing was changed")
        updated = store.edit_entry(entry_id, text)
    original = updated["original_text"] or "(empty)"
    click.echo(f"#{entry_id} corrected. The original is kept: {original if len(original) <= 200 else original[:200] + '…'}")

@click.command()
@click.argument("entry_id", type=ENTRY_ID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(entry_id: int, yes: bool) -> None:
    """Delete one entry and its recording."""
    from companion.review.present import entry_line
    from companion.store.database import Store
    from companion.terminal import confirm

    with Store.open() as store:
        entry = store.get_entry(entry_id)
        recording = " and its recording" if entry.get("audio") else ""
        if not yes:
            click.echo(entry_line(entry))
            if not _confirmed(lambda: confirm(f"Delete this entry{recording}?")):
                return
        store.delete_entry(entry_id)
    click.echo(f"#{entry_id} deleted{', with its recording' if recording else ''}.")

def _answer(ask):
    """The answer to a confirmation question; Ctrl-C there says plainly that nothing was deleted."""
    try:
        return ask()
    except KeyboardInterrupt:
        click.echo("\nNothing was deleted.")
        sys.exit(130)

def _confirmed(ask) -> bool:
    """A yes/no confirmation; no says plainly that nothing was deleted."""
    yes = _answer(ask)
    if not yes:
        click.echo("Nothing was deleted.")
    return yes

FORGET_PHRASE = "forget everything"

@click.command()
@click.option("--all", "everything", is_flag=True, help="Everything: sessions, entries and recordings.")
@click.option("--spoken", is_flag=True, help="Confirm by saying \"forget everything\" instead of typing it.")
@click.option("--confirm", "confirmation", help=f'Type the confirmation here: "{FORGET_PHRASE}".')
@listening_options
@engine_options
@audio_options
@voice_options
def forget(everything: bool, spoken: bool, confirmation: str | None, **options) -> None:
    """Delete everything Companion keeps, after you confirm."""
    from companion.store.database import Store

    if not everything:
        raise CompanionError("say what to forget", "`companion forget --all` deletes everything; `companion delete ID` one entry")
    if spoken:
        confirmation = _spoken_confirmation(command_settings(options))
    elif confirmation is None:
        from companion.terminal import ask

        question = f'This deletes every session, entry and recording. Type "{FORGET_PHRASE}" to go on:'
        confirmation = _answer(lambda: ask(question))
    if not confirms(confirmation or "", FORGET_PHRASE, spoken):
        click.echo("Nothing was deleted.")
        return
    with Store.open() as store:
        store.forget_all()
    click.echo("Everything is forgotten: sessions, entries and recordings.")

def confirms(answer: str, phrase: str, spoken: bool) -> bool:
    """Typed: exactly the phrase. Spoken: the phrase said, not negated ("don't forget everything");
    other words around it (a recogniser's stray "thank you") do not matter."""
    from companion.textnorm import normalize_words

    said, wanted = normalize_words(answer), normalize_words(phrase)
    if not spoken:
        return said == wanted
    for i in range(len(said) - len(wanted) + 1):
        if said[i : i + len(wanted)] == wanted:
            return not any(w in ("don't", "dont", "not", "no", "never", "do") for w in said[max(0, i - 2) : i])
    return False

def _spoken_confirmation(settings: config.Settings) -> str:
    import tempfile
    from datetime import datetime

    from companion.conversation.answer import record_answer, speak
    from companion.terminal import Terminal

    prompt = f"To delete everything, say: {FORGET_PHRASE}. To keep it all, stay quiet."
    ui = Terminal()
    with spoken_io(settings, answers=False) as (engine, mic, speaker, voice), tempfile.TemporaryDirectory() as tmp:
        ui.say(prompt)
        speak(voice, speaker, mic, prompt)
        answer = record_answer(mic, engine, ui, prompt, Path(tmp) / "confirm.wav", settings.silence,
                               min(settings.wait, 10), datetime.now().astimezone())
    return answer.text


@click.command()
@click.option("--format", "fmt", type=click.Choice(["markdown", "json", "html", "srt", "vtt"]), default="markdown",
              show_default=True, help="markdown: the words, by session and week, to read or share; json: every "
              "entry, session and practice run with words and timings, recordings named by their path (not "
              "included: `companion backup --with-recordings` copies them); html: one page with the words and "
              "the recordings inside it (the same page as `companion page`); srt/vtt: captions of one answer (--id).")
@click.option("--id", "entry_id", type=ENTRY_ID, help="The answer to caption (srt, vtt).")
@click.option("--since", help="Only from this date on, e.g. 2026-11-01 (markdown, html).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of printing.")
def export(fmt: str, entry_id: int | None, since: str | None, output: Path | None) -> None:
    """What you said, to keep or to bring to your therapist."""
    from companion.review import export as exporting
    from companion.store.sessions import parse_moment

    if fmt in ("srt", "vtt") and entry_id is None:
        raise CompanionError(f"{fmt} captions are for one answer", f"add --id, e.g. `companion export --format {fmt} --id 12`")
    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    with store_for_reading() as store:
        if fmt == "json":
            text = json.dumps(exporting.export_json(store), indent=2, ensure_ascii=False) + "\n"
        elif fmt == "markdown":
            text = exporting.export_markdown(store, since_iso)
        elif fmt == "html":
            from companion.review.page_build import page_html

            text = page_html(store, since_iso, everything=since_iso is None)
        else:
            text = exporting.entry_captions(store.get_entry(entry_id), fmt)
    if output:
        try:
            output.write_text(text, encoding="utf-8")  # private: the process umask is 0o077
        except OSError as e:
            raise CompanionError(f"cannot write the export to {output}: {e.strerror or e}",
                                 "choose a file in a folder that exists and that you can write to; nothing stored was changed") from None
        click.echo(f"Written to {output}")
        if fmt == "html":
            from companion.review.page_build import encryption_note

            note = encryption_note(output)
            if note:
                click.echo(note)
    else:
        click.echo(text, nl=False)


@click.command("import-json")
@click.argument("file", type=click.Path(path_type=Path, readable=False))
def import_json(file: Path) -> None:
    """Restore a JSON export into an empty data folder.

    Sessions, entries, words and practice runs come from the file; recordings are copied from the
    paths it names (or from an audio/ folder beside it).
    """
    from companion.store.database import Store
    from companion.store.restore import restore_export

    if not file.is_file():
        raise InputFileError(f"{file} does not exist or is not a file", "give the path of a JSON export")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputFileError(f"{file} cannot be read ({e.strerror or e})", "check the file's permissions; nothing was stored") from None
    except UnicodeDecodeError as e:
        raise InputFileError(f"{file} is not UTF-8 text, so not a Companion export (the byte 0x{e.object[e.start]:02x} at position {e.start})",
                             "make one with `companion export --format json -o FILE`; nothing was stored") from None
    except json.JSONDecodeError as e:
        raise InputFileError(f"{file} is not JSON ({e.__class__.__name__})",
                             "make one with `companion export --format json -o FILE`") from None
    for key in ("entries", "sessions", "reflections", "practice_runs") if isinstance(data, dict) else ():
        items = data.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            raise InputFileError(f"{file} is not a Companion JSON export (its \"{key}\" are not a list of objects)",
                                 "make one with `companion export --format json -o FILE`; nothing was stored")
    with Store.open() as store:
        count = restore_export(store, data, file.resolve().parent)
    click.echo(f"Restored {count} entries into {store.root}.")


@click.command()
@click.argument("destination", required=False, type=click.Path(path_type=Path))
@click.option("--with-recordings", is_flag=True,
              help="Copy the whole data folder instead: the database, every recording, and your body states, "
                   "practices and encryption settings (DESTINATION is then a new folder).")
def backup(destination: Path | None, with_recordings: bool) -> None:
    """A consistent copy of your data, safe while in use.

    Without options: a copy of the database (every entry, its words, sessions and practice runs),
    not the recordings. With --with-recordings: a folder with the database and every recording as
    it is (encrypted ones stay encrypted); copy its contents into a data folder to go back to it.
    """
    from companion.paths import data_dir, database_path
    from companion.store import backup as backups

    if with_recordings:
        folder = destination or backups.new_backup_path().with_suffix("")
        made, recordings = backups.backup_folder(data_dir(), folder)
        click.echo(f"Backed up to {made}: the database and {recordings} recording(s).")
        return
    made = backups.backup_database(database_path(), destination or backups.new_backup_path())
    click.echo(f"Backed up to {made} (the database; `companion backup --with-recordings` also copies the recordings).")

@click.command()
@click.option("--change-passphrase", is_flag=True,
              help="Re-encrypt everything under a new passphrase (the current one is asked first; "
                   "the new one twice, or COMPANION_NEW_PASSPHRASE).")
def encrypt(change_passphrase: bool) -> None:
    """Encrypt everything with a passphrase.

    The database, recordings and backups are encrypted; the passphrase is asked twice (or read from
    COMPANION_PASSPHRASE).
    """
    from companion.paths import data_dir
    from companion.store.encrypt import encrypt_folder

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
    from companion.store.encrypt import change_passphrase

    done = change_passphrase(folder)
    kept = ["the database" if done.database else "", f"{done.recordings} recording(s)" if done.recordings else "",
            f"{done.backups} backup(s)" if done.backups else ""]
    click.echo(f"The new passphrase now opens {', '.join(k for k in kept if k) or 'everything'} in {done.folder}; "
               "the old one no longer does.")
    for path in done.skipped:
        click.echo(f"Left as it was (the old passphrase did not open it): {path}")
    click.echo("Copies made before now (exports, backups kept elsewhere) still open with the old passphrase.")


COMMANDS: list[click.Command] = [edit, delete, forget, export, import_json, backup, encrypt]
