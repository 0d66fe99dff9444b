"""Commands of a reflection: `reflect` (the spoken questions) and `import` (a recording made elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from companion import config
from companion.cli.options import (
    audio_options,
    engine_options,
    listening_options,
    load_engine,
    settings_for,
    typed_text,
    voice_for,
    voice_options,
)


@click.command()
@engine_options
@audio_options
@voice_options
@listening_options
@click.option("--prompt", "prompts", multiple=True, help="Ask this question instead (repeat for several).")
@click.option("--no-crisis-note", is_flag=True, help="Do not add the note about crisis support.")
def reflect(no_crisis_note: bool, **options) -> None:
    """Answer a few spoken questions after a session.

    Companion asks each question aloud and keeps your answer, your voice and the words. There is no
    hurry: pauses for thinking are fine, and an answer ends after a few seconds of quiet (--silence).
    Say "next" to move on, "skip" to pass a question, or "I'm done" to finish; said on their own,
    those words are not kept in the text. Saying nothing simply moves on.
    """
    from companion.audio.capture import Microphone
    from companion.audio.playback import Speaker
    from companion.reflect.opening import greet, phrases

    if no_crisis_note:
        os.environ["COMPANION_CRISIS_NOTE"] = "0"  # read by companion.understand.crisis for this run
    for prompt in options.get("prompts") or ():
        typed_text(prompt, "the question given with --prompt", limit=1000, nothing="nothing was recorded")
    settings = settings_for(config.ALL, **options)
    voice = voice_for(settings)
    voice.prepare(phrases(settings))  # the opening first, while the devices open; then the voice lets its model go
    engine = None
    try:
        mic = Microphone(settings.input_device)  # found now (a reflection without one is told so first), opened later
        with Speaker(settings.output_device) as speaker:
            greeting = greet(voice, speaker, settings)  # the first word at once; the rest opens while it is heard
            from companion.reflect.flow import Reflection
            from companion.store.database import Store
            from companion.terminal import Terminal

            with Store.open() as store, mic:
                engine = load_engine(settings, background=voice.wait_ready)  # loads while the opening is spoken
                Reflection(store, engine, mic, speaker, voice, settings, Terminal()).run(greeting)
    finally:  # nothing left running in the background when the process ends, however it ends
        from companion.speech.base import LoadingEngine

        voice.settle()
        if isinstance(engine, LoadingEngine):
            engine.settle()


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@engine_options
def import_(files: tuple[Path, ...], **options) -> None:
    """Keep a recording made elsewhere, with its words.

    WAV, FLAC, OGG, MP3 and M4A files are read; each becomes a reflection answer.
    """
    from companion.reflect.importer import decode, import_recording, shown_name
    from companion.store.database import Store

    for path in files:  # check every file before storing anything
        decode(path)
    settings = settings_for(("engine", "model", "final_model"), **options)
    with Store.open() as store:
        engine = load_engine(settings)
        for path in files:
            result = import_recording(store, engine, path)
            click.echo(f"#{result.entry_id}  {shown_name(path)}  ({result.duration:.0f} s)")
            click.echo(f"  {result.text or '(no words recognised; the audio is kept)'}")


COMMANDS: list[click.Command] = [reflect, import_]
