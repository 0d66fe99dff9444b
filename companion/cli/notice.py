"""Commands for noticing between sessions: `ripple`, `checkin`, `session`."""

from __future__ import annotations

import click

from companion import config
from companion.cli.options import (
    audio_options,
    command_settings,
    engine_options,
    listening_options,
    spoken_io,
    typed_text,
    voice_options,
)
from companion.errors import CompanionError


def _answer_options(f):
    f = click.option("--no-crisis-note", is_flag=True, help="Do not add the note about crisis support.")(f)
    return listening_options(f)

def _crisis_flag(no_crisis_note: bool) -> bool:
    from companion.understand.crisis import crisis_note_enabled

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
    """Keep a small shift you noticed, spoken or typed."""
    from companion.notice.flow import Noticing, save_ripple
    from companion.store.database import Store
    from companion.terminal import Terminal

    text = _typed(text)
    crisis = _crisis_flag(no_crisis_note)
    with Store.open() as store:
        if text is not None:
            _echo_saved(save_ripple(store, text, crisis_note=crisis))
            return
        settings = command_settings(options)
        with spoken_io(settings) as (engine, mic, speaker, voice):
            Noticing(store, engine, mic, speaker, voice, Terminal(), settings.silence, settings.wait, crisis).ripple()

@click.command()
@click.option("--text", help="Type how your body feels instead of speaking it.")
@_answer_options
@engine_options
@audio_options
@voice_options
def checkin(text: str | None, no_crisis_note: bool, **options) -> None:
    """How does your body feel right now? A word or two."""
    from companion.notice.flow import Noticing, save_checkin
    from companion.store.database import Store
    from companion.terminal import Terminal

    text = _typed(text)
    crisis = _crisis_flag(no_crisis_note)
    with Store.open() as store:
        if text is not None:
            saved = save_checkin(store, text, crisis_note=crisis)
            _echo_saved(saved)
            if saved.states and saved.states.unknown and not saved.crisis_note:  # never read crisis words back
                click.echo(f"  Also kept as you said them: {', '.join(saved.states.unknown)}")
            return
        settings = command_settings(options)
        with spoken_io(settings) as (engine, mic, speaker, voice):
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
    """Mark that a therapy session took place (now, or --at).

    A short note can be typed (--note) or spoken (--speak).
    """
    from companion.store.database import Store
    from companion.store.sessions import mark_session, parse_moment

    moment = parse_moment(at) if at else None
    if note is not None and spoken_note:
        raise CompanionError("choose either --note or --speak", "one note per session")
    note = _typed(note, "the note after --note") if note is not None else None
    with Store.open() as store:
        if spoken_note:
            note = _spoken_session_note(store, command_settings(options))
        session_id = mark_session(store, moment, note)
        held_at = store.db["sessions"].get(session_id)["held_at"]
        latest = store.last_session()
    when = held_at[:16].replace("T", " ")
    click.echo(f"Session marked for {when}." + (" Your note is kept with it." if note else ""))
    if latest is None or latest["id"] == session_id:
        click.echo("`companion review` gathers everything since this session.")
    else:
        later = latest["held_at"][:16].replace("T", " ")
        click.echo(f"A later session is marked ({later}), so `companion review` gathers what came after that one; "
                   f"`companion review --since {held_at[:10]}` goes back to this one.")

def _spoken_session_note(store, settings: config.Settings) -> str | None:
    from datetime import datetime

    from companion.conversation.answer import record_answer, speak
    from companion.paths import data_dir, ensure_private_dir
    from companion.terminal import Terminal

    prompt = "Is there anything you want to note about the session? A few words are enough."
    ui = Terminal()
    with spoken_io(settings) as (engine, mic, speaker, voice):
        ui.say(prompt)
        speak(voice, speaker, mic, prompt)
        started = datetime.now().astimezone()
        folder = ensure_private_dir(data_dir() / "cache" / "session-notes")
        path = folder / f"note-{started:%Y%m%dT%H%M%S}.wav"
        answer = record_answer(mic, engine, ui, prompt, path, settings.silence, settings.wait, started)
        if answer.audio is not None:
            answer.audio.unlink(missing_ok=True)  # the note is kept as text with the session
    return answer.text or None


COMMANDS: list[click.Command] = [ripple, checkin, session]
