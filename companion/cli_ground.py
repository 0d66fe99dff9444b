"""Commands for guided grounding practices (issue 3): `practices`, `practices show`, `ground`."""

from __future__ import annotations

from pathlib import Path

import click

from companion import config
from companion.cli_options import audio_options, engine_options, voice_options
from companion.errors import CompanionError

DEFAULT_PRACTICE = "allow-rest"
CHOOSE_SECONDS = 8.0  # how long to wait for a spoken choice before the short default
MIC_BLOCK = 0.02  # seconds of audio per microphone block: commands are noticed sooner
OUTPUT_LATENCY = 0.04  # seconds of sound queued in the device: "pause" silences within this much


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
    from companion.practice.timing import DEFAULT_WORDS, bpm, practice_seconds

    p = find(name)
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
@click.option("--cycles", type=click.IntRange(1, 200), help="Breaths in each breathing part.")
@click.option("--minutes", type=click.FloatRange(0.5, 60), help="About how long the whole practice lasts.")
@click.option("--pace", type=click.FloatRange(4, 10), help="Breaths a minute (4 to 10), e.g. 6 for resonance breathing.")
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
    settings = config.merged(config.load(), **options)

    from companion.audio.capture import Microphone
    from companion.practice.speaker import PracticeSpeaker
    from companion.storage import Store
    from companion.voice import Voice, VoiceSettings

    voice = Voice(VoiceSettings(settings.voice, settings.rate, settings.volume))
    engine = None
    if not no_listen:
        from companion.listen import vocabulary_notes
        from companion.speech import models

        engine = models.load(models.choose(settings.engine, settings.model))
        for note in vocabulary_notes(engine, commands):
            click.echo(f"Note: {note}.", err=True)
    with Store.open() as store, PracticeSpeaker(settings.output_device, latency=OUTPUT_LATENCY) as speaker:
        mic = Microphone(settings.input_device, block_seconds=MIC_BLOCK).start() if engine else None
        try:
            if practice is None:
                practice = _choose_by_voice(speaker, voice, mic, engine)
            practice = _adjusted(practice, cycles, minutes, pace)
            _run(store, practice, speaker, voice, mic, engine, commands, cues, timing_log)
        finally:
            if mic:
                mic.stop()


def _adjusted(practice, cycles: int | None, minutes: float | None, pace: float | None):
    from companion.practice import model

    if pace:
        practice = model.with_pace(practice, pace)
    if cycles:
        practice = model.with_cycles(practice, cycles)
    if minutes:
        practice = model.with_minutes(practice, minutes)
    return practice


def _choose_by_voice(speaker, voice, mic, engine):
    """Ask which practice; a spoken name chooses it, quiet chooses the short default."""
    import queue

    from companion.listen import CommandListener

    found = _practices()
    default = found.get(DEFAULT_PRACTICE) or next(iter(found.values()))
    if mic is None:
        return default
    names = [p for p in found.values() if p.spoken_names]
    question = ("Which practice would you like? You could say "
                + ", ".join(p.spoken_names[0] for p in names[:-1]) + f", or {names[-1].spoken_names[0]}. "
                + f"Or stay quiet, and we'll begin {default.title.lower()}.")
    click.echo(question)
    samples, rate = voice.render(question)
    speaker.wait(speaker.play(samples, rate))
    choices: queue.Queue = queue.Queue()
    words = {p.name: list(p.spoken_names) for p in names}
    with CommandListener(mic, engine, words, choices.put):
        try:
            chosen = found[choices.get(timeout=CHOOSE_SECONDS).command]
        except queue.Empty:
            chosen = default
    click.echo(f"  {chosen.title}")
    return chosen


def _run(store, practice, speaker, voice, mic, engine, commands, cues, timing_log) -> None:
    from companion.listen import CommandListener
    from companion.practice.records import RunRecord, finish_run, start_run
    from companion.practice.runner import GuidedRun

    guide = GuidedRun(practice, speaker, voice, cues, say=click.echo, timing_log=timing_log)
    guide.prepare()
    record = RunRecord(practice.name, practice.title, cues, engine.name if engine else None)
    run_id = start_run(store, record)
    spoken = ", ".join(phrases[0] for phrases in commands.values())
    click.echo(f"{practice.title}. " + (f"You can say {spoken} at any time." if mic else "Ctrl-C ends it gently."))

    def mic_failed(error: Exception) -> None:
        click.echo(f"  (voice control stopped: {error}. Ctrl-C still ends the practice.)", err=True)

    listener = CommandListener(mic, engine, commands, guide.commands.put, mic_failed, guide.note_decoded) if mic else None
    if listener:
        listener.start()
    try:
        result = guide.run()
    finally:
        if listener:
            listener.stop()
    record.commands = result.commands
    finish_run(store, run_id, record, result.finished, result.duration)


COMMANDS: list[click.Command] = [practices, ground]
