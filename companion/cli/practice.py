"""Commands for guided grounding practices: `practices`, `practices show`, `ground`."""

from __future__ import annotations

from pathlib import Path

import click

from companion import config
from companion.cli.options import (
    Bounded,
    audio_options,
    engine_options,
    settings_for,
    voice_for,
    voice_options,
)
from companion.errors import CompanionError
from companion.practice.timing import LONGEST_MINUTES, SHORTEST_MINUTES



def _practices():
    from companion.practice.model import load_all

    practices, problems = load_all()
    for problem in problems:
        click.echo(f"Note: {problem.message} (the other practices are fine)", err=True)
    return practices


@click.group("practices", invoke_without_command=True)
@click.pass_context
def practices(ctx: click.Context) -> None:
    """Guided grounding practices: the built-ins and your own."""
    if ctx.invoked_subcommand:
        return
    from companion.practice.model import user_dir
    from companion.practice.timing import practice_seconds

    found = _practices()
    for p in sorted(found.values(), key=lambda p: p.name):
        minutes = practice_seconds(p) / 60
        mark = "  (yours)" if p.source == "yours" else ""
        click.echo(f"{p.name:<20} {minutes:>4.1f} min  {p.description}{mark}")
    click.echo(f"\n`companion ground NAME` begins one. Your own practices go in {user_dir()}.")


@practices.command("show")
@click.argument("name")
def practices_show(name: str) -> None:
    """The steps of one practice."""
    from companion.practice.model import Breathe, Pause, Say, find
    from companion.practice.timing import (
        DEFAULT_WORDS,
        bpm,
        practice_seconds,
        with_spoken_length,
    )

    p = with_spoken_length(find(name))
    click.echo(f"{p.title}  ({p.name}, {p.source}, about {practice_seconds(p) / 60:.1f} min)")
    click.echo(p.description)
    click.echo("")
    for step in p.steps:
        if isinstance(step, Say):
            click.echo(f'  say      "{step.text}"')
        elif isinstance(step, Pause):
            click.echo(f"  quiet    {step.seconds:g} s")
        elif isinstance(step, Breathe):
            phases = ", ".join(f"{ph.kind} {ph.seconds:g} s" for ph in step.phases)
            click.echo(f"  breathe  {phases}  x {step.cycles}  ({bpm(step):.1f} breaths a minute)")
            words = " / ".join(ph.say or DEFAULT_WORDS[ph.kind] for ph in step.phases)
            click.echo(f"           spoken: {words}")


def _command_words(path: Path | None) -> dict[str, list[str]]:
    """The practice commands, or your own words for them from a TOML file (command = [phrases])."""
    import tomllib

    from companion.practice.runner import PRACTICE_COMMANDS

    if path is None:
        return PRACTICE_COMMANDS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise CompanionError(f"cannot read the command words in {path}: {e}", "it should hold lines like pause = [\"pause\"]") from None
    words = dict(PRACTICE_COMMANDS)
    for command, phrases in data.items():
        if command not in PRACTICE_COMMANDS:
            raise CompanionError(f"{path}: '{command}' is not a practice command", f"known: {', '.join(PRACTICE_COMMANDS)}")
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise CompanionError(f"{path}: '{command}' should be a list of phrases in quotes", 'e.g. pause = ["pause"]')
        words[command] = phrases
    return words


@click.command("ground")
@click.argument("name", required=False)
@click.option("--cycles", type=Bounded(1, 200, "from 1 to 200 breaths", whole=True, unit="BREATHS", example="--cycles 6"),
              help="Breaths in each breathing part.")
@click.option("--minutes", type=Bounded(SHORTEST_MINUTES, LONGEST_MINUTES, "between half a minute and an hour", unit="MINUTES",
                                      example="--minutes 5"),
              help="About how long the whole practice lasts (half a minute to an hour).")
@click.option("--pace", type=Bounded(4, 10, "from 4 to 10 breaths a minute", unit="BREATHS", example="--pace 6"),
              help="Breaths a minute (4 to 10), e.g. 6 for resonance breathing.")
@click.option("--cues", type=click.Choice(["both", "voice", "tones"]), default="both", show_default=True,
              help="How breaths are guided: voice and tones, voice only, or tones only.")
@click.option("--no-listen", is_flag=True, help="No voice control (Ctrl-C still ends the practice gently).")
@engine_options
@audio_options
@voice_options
@click.option("--command-words", type=click.Path(path_type=Path), help="A TOML file with your own words for the commands.")
@click.option("--timing-log", type=click.Path(path_type=Path), hidden=True)
def ground(name: str | None, cycles: int | None, minutes: float | None, pace: float | None, cues: str,
           no_listen: bool, command_words: Path | None, timing_log: Path | None, **options) -> None:
    """A guided grounding practice, controlled by voice.

    While it runs you can say: pause, continue, slower, faster, repeat, skip, stop (or "I'm done").
    With no NAME, Companion asks which one, and begins a short one if you stay quiet.
    """
    from companion.practice import model

    if cycles and minutes:
        raise CompanionError("--cycles and --minutes both set the length", "choose one of them")
    practice = model.find(name) if name else None
    commands = _command_words(command_words)
    settings = settings_for(config.SPEAKING, **options)

    from companion.audio.capture import Microphone
    from companion.practice.guide import MIC_BLOCK, OUTPUT_LATENCY, adjusted, choose_by_voice, run_practice
    from companion.practice.speaker import PracticeSpeaker
    from companion.store.database import Store

    voice = voice_for(settings)
    engine = None
    if not no_listen:
        from companion.conversation.commands import vocabulary_notes
        from companion.speech import models

        engine = models.load(models.choose(settings.engine, settings.model))
        for note in vocabulary_notes(engine, commands):
            click.echo(f"Note: {note}.", err=True)
    with Store.open() as store, PracticeSpeaker(settings.output_device, latency=OUTPUT_LATENCY) as speaker:
        mic = Microphone(settings.input_device, block_seconds=MIC_BLOCK, latency="low").start() if engine else None
        try:
            if practice is None:
                practice = choose_by_voice(speaker, voice, mic, engine, _practices(), show=click.echo)
            practice = adjusted(practice, cycles, minutes, pace)
            run_practice(store, practice, speaker, voice, mic, engine, commands, cues, timing_log,
                         on_mic_failed=lambda error: click.echo(
                             f"  (voice control stopped: {error}. Ctrl-C still ends the practice.)", err=True))
        finally:
            if mic:
                mic.stop()


COMMANDS: list[click.Command] = [practices, ground]
