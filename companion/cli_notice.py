"""Commands for noticing and review (issue 4): `ripple`, `checkin`, `session`, `review`, `play`, `search`,
`edit`, `delete`, `forget`, `import-json`.

Thin: options are parsed here, the work is done in notice.py, review.py, replay.py, export.py, storage.py.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from companion import config
from companion.cli_options import (
    ENTRY_ID,
    audio_options,
    engine_options,
    listening_options,
    typed_text,
    voice_options,
)
from companion.errors import CompanionError, InputFileError


def _answer_options(f):
    f = click.option("--no-crisis-note", is_flag=True, help="Do not add the note about crisis support.")(f)
    return listening_options(f)


def _settings(options: dict) -> config.Settings:
    known = {k: v for k, v in options.items() if k in config.Settings.__dataclass_fields__}
    return config.merged(config.load(), **known)


@contextmanager
def _spoken(settings: config.Settings):
    """The engine, microphone, speaker and voice for a spoken command (opened in that order, all closed)."""
    from companion.audio.capture import Microphone
    from companion.audio.playback import Speaker
    from companion.speech import models
    from companion.voice import Voice, VoiceSettings

    engine = models.load(models.choose(settings.engine, settings.model))
    voice = Voice(VoiceSettings(settings.voice, settings.rate, settings.volume))
    with Speaker(settings.output_device) as speaker, Microphone(settings.input_device) as mic:
        yield engine, mic, speaker, voice


def _crisis_flag(no_crisis_note: bool) -> bool:
    from companion.care import crisis_note_enabled

    return False if no_crisis_note else crisis_note_enabled()


def _typed(text: str | None, what: str = "the text after --text") -> str | None:
    if text is None:
        return None
    typed_text(text, what)
    if not text.strip():
        raise CompanionError("the typed text is empty", "write a few words after --text, or leave --text out to speak")
    return text.strip()


def _echo_saved(saved) -> None:
    click.echo(f"#{saved.entry_id}  {saved.reply}")
    if saved.crisis_note:
        click.echo(saved.crisis_note)


@click.command()
@click.option("--text", help="Type the ripple instead of speaking it.")
@_answer_options
@engine_options
@audio_options
@voice_options
def ripple(text: str | None, no_crisis_note: bool, **options) -> None:
    """Keep a small shift you noticed, in a few spoken (or typed) words."""
    from companion.notice import Noticing, save_ripple
    from companion.storage import Store
    from companion.ui import Terminal

    text = _typed(text)
    crisis = _crisis_flag(no_crisis_note)
    with Store.open() as store:
        if text is not None:
            _echo_saved(save_ripple(store, text, crisis_note=crisis))
            return
        settings = _settings(options)
        with _spoken(settings) as (engine, mic, speaker, voice):
            Noticing(store, engine, mic, speaker, voice, Terminal(), settings.silence, settings.wait, crisis).ripple()


@click.command()
@click.option("--text", help="Type how your body feels instead of speaking it.")
@_answer_options
@engine_options
@audio_options
@voice_options
def checkin(text: str | None, no_crisis_note: bool, **options) -> None:
    """A short body check-in: how does your body feel right now?"""
    from companion.notice import Noticing, save_checkin
    from companion.storage import Store
    from companion.ui import Terminal

    text = _typed(text)
    crisis = _crisis_flag(no_crisis_note)
    with Store.open() as store:
        if text is not None:
            saved = save_checkin(store, text, crisis_note=crisis)
            _echo_saved(saved)
            if saved.states and saved.states.unknown:
                click.echo(f"  Also kept as you said them: {', '.join(saved.states.unknown)}")
            return
        settings = _settings(options)
        with _spoken(settings) as (engine, mic, speaker, voice):
            Noticing(store, engine, mic, speaker, voice, Terminal(), settings.silence, settings.wait, crisis).checkin()


@click.command()
@click.option("--at", "at", help="When it took place, e.g. 2026-11-24 or '2026-11-24 16:30' (default: now).")
@click.option("--note", help="A short typed note about the session.")
@click.option("--speak", "spoken_note", is_flag=True, help="Say a short note about the session instead.")
@listening_options
@engine_options
@audio_options
@voice_options
def session(at: str | None, note: str | None, spoken_note: bool, **options) -> None:
    """Mark that a therapy session took place (now, or --at), with an optional note."""
    from companion.sessions import mark_session, parse_moment
    from companion.storage import Store

    moment = parse_moment(at) if at else None
    if note is not None and spoken_note:
        raise CompanionError("choose either --note or --speak", "one note per session")
    note = _typed(note, "the note after --note") if note is not None else None
    with Store.open() as store:
        if spoken_note:
            note = _spoken_session_note(store, _settings(options))
        session_id = mark_session(store, moment, note)
        held_at = store.db["sessions"].get(session_id)["held_at"]
    when = held_at[:16].replace("T", " ")
    click.echo(f"Session marked for {when}." + (" Your note is kept with it." if note else ""))
    click.echo("`companion review` will gather everything since then.")


def _spoken_session_note(store, settings: config.Settings) -> str | None:
    from datetime import datetime

    from companion.paths import data_dir, ensure_private_dir
    from companion.spoken import record_answer, speak
    from companion.ui import Terminal

    prompt = "Is there anything you want to note about the session? A few words are enough."
    ui = Terminal()
    with _spoken(settings) as (engine, mic, speaker, voice):
        ui.say(prompt)
        speak(voice, speaker, mic, prompt)
        started = datetime.now().astimezone()
        folder = ensure_private_dir(data_dir() / "cache" / "session-notes")
        path = folder / f"note-{started:%Y%m%dT%H%M%S}.wav"
        answer = record_answer(mic, engine, ui, prompt, path, settings.silence, settings.wait, started)
        if answer.audio is not None:
            answer.audio.unlink(missing_ok=True)  # the note is kept as text with the session
    return answer.text or None


@click.command()
@click.option("--print", "print_only", is_flag=True, help="Show the review without speaking.")
@click.option("--since", help="Review from this date instead of the last session (e.g. 2026-11-01).")
@click.option("--pause", type=click.FloatRange(0.5, 120), default=6.0, show_default=True,
              help="Seconds to wait after each item before going on by itself.")
@engine_options
@audio_options
@voice_options
def review(print_only: bool, since: str | None, pause: float, **options) -> None:
    """Before the next session: what you said since the last one, spoken and shown."""
    from companion.review import Review, gather, print_review, review_items
    from companion.sessions import parse_moment
    from companion.storage import Store
    from companion.ui import Terminal

    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    ui = Terminal()
    with Store.open(reading=print_only) as store:
        digest, entries = gather(store, since_iso)
        items = review_items(digest, entries)
        if print_only:
            print_review(ui, items)
            return
        settings = _settings(options)
        with _spoken(settings) as (engine, mic, speaker, voice):
            Review(store, engine, mic, speaker, voice, ui, pause).run(items)


@click.command()
@click.argument("entry_id", type=ENTRY_ID)
@click.option("--from-word", help="Start where these words are said.")
@click.option("--at", "at", type=float, help="Start at this second.")
@audio_options
def play(entry_id: int, from_word: str | None, at: float | None, **options) -> None:
    """Play your own recorded voice for one entry, the words highlighted as you hear them."""
    from companion.audio.playback import Speaker
    from companion.replay import Replay
    from companion.storage import Store

    if from_word is not None and at is not None:
        raise CompanionError("choose either --from-word or --at", "one starting point at a time")
    settings = _settings(options)
    with Store.open(reading=True) as store:
        entry = store.get_entry(entry_id)
        replay = Replay(store, None)
        replay.load(entry)  # check the recording before opening the speaker
        with Speaker(settings.output_device) as speaker:
            replay.speaker = speaker
            click.echo(f"#{entry_id}  {entry.get('prompt') or ''}".rstrip())
            replay.play(entry, from_word=from_word, at=at)


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(["reflection", "ripple", "checkin"]))
@click.option("--since", help="Only from this date (e.g. 2026-11-01).")
@click.option("--until", help="Only up to and including this date.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def search(query: tuple[str, ...], kind: str | None, since: str | None, until: str | None, limit: int) -> None:
    """Find words in what you said (also other forms: "breathe" finds "breathing")."""
    from companion.present import search_line
    from companion.sessions import parse_moment
    from companion.storage import Store

    typed_text(" ".join(query), "what you searched for", limit=None, nothing="nothing was searched")
    since_iso = parse_moment(since, what="--since").isoformat(timespec="seconds") if since else None
    until_value = None
    if until:
        moment = parse_moment(until, what="--until")
        until_value = until.strip() if len(until.strip()) == 10 else moment.isoformat(timespec="seconds")
    with Store.open(reading=True) as store:
        results = store.search(" ".join(query), kind=kind, since=since_iso, until=until_value, limit=limit)
    if not results:
        click.echo("Nothing found for that. Other words, or fewer, may find it.")
    styled = sys.stdout.isatty()
    for result in results:
        click.echo(search_line(result, styled))


@click.command()
@click.argument("entry_id", type=ENTRY_ID)
@click.option("--text", help="The corrected text (without it, your editor opens).")
def edit(entry_id: int, text: str | None) -> None:
    """Correct what was written down; the original stays beside the correction."""
    from companion.storage import Store

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
    from companion.present import entry_line
    from companion.storage import Store

    with Store.open() as store:
        entry = store.get_entry(entry_id)
        if not yes:
            click.echo(entry_line(entry))
            click.confirm("Delete this entry and its recording?", abort=True)
        store.delete_entry(entry_id)
    click.echo(f"#{entry_id} deleted, with its recording.")


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
    from companion.storage import Store

    if not everything:
        raise CompanionError("say what to forget", "`companion forget --all` deletes everything; `companion delete ID` one entry")
    if spoken:
        confirmation = _spoken_confirmation(_settings(options))
    elif confirmation is None:
        confirmation = click.prompt(f'This deletes every session, entry and recording. Type "{FORGET_PHRASE}" to go on',
                                    default="", show_default=False)
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

    from companion.spoken import record_answer, speak
    from companion.ui import Terminal

    prompt = f"To delete everything, say: {FORGET_PHRASE}. To keep it all, stay quiet."
    ui = Terminal()
    with _spoken(settings) as (engine, mic, speaker, voice), tempfile.TemporaryDirectory() as tmp:
        ui.say(prompt)
        speak(voice, speaker, mic, prompt)
        answer = record_answer(mic, engine, ui, prompt, Path(tmp) / "confirm.wav", settings.silence,
                               min(settings.wait, 10), datetime.now().astimezone())
    return answer.text


@click.command("import-json")
@click.argument("file", type=click.Path(path_type=Path, readable=False))
def import_json(file: Path) -> None:
    """Restore a JSON export into an empty data folder (sessions, entries, words, recordings)."""
    from companion.storage import Store

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
        count = store.restore(data, file.resolve().parent)
    click.echo(f"Restored {count} entries into {store.root}.")


COMMANDS: list[click.Command] = [
    ripple, checkin, session, review, play, search, edit, delete, forget, import_json,
]  # fmt: skip
