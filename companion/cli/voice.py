"""Commands for Companion's voice: `voices` (which there are) and `say` (hear one, or keep it as a WAV)."""

from __future__ import annotations

from pathlib import Path

import click

from companion import config
from companion.cli.options import audio_options, settings_for, typed_text, voice_for, voice_options
from companion.errors import CompanionError


@click.command()
@click.option("--all", "everything", is_flag=True, help="Also espeak-ng's voices for other languages.")
def voices(everything: bool) -> None:
    """The voices Companion can speak with, the one in use marked."""
    from companion.voice.choose import all_voices, speaking_voice

    settings = settings_for(())
    speaking, why_not_chosen = speaking_voice(settings.voice)
    rows = [r for r in all_voices() if everything or "not English" not in r[2]]
    width = max(len(name) for name, _, _ in rows)
    for name, what, where in rows:
        mark = "*" if name.lower() == speaking else " "
        click.echo(f"{mark} {name:<{width}}  {what}; {where}")
    click.echo()
    if why_not_chosen is not None:
        reason = why_not_chosen.message
        click.echo(f"{reason[:1].upper()}{reason[1:]}, so {speaking} speaks instead; {why_not_chosen.hint}.")
    click.echo("The voice marked * speaks now. Choose another with --voice NAME, or voice = \"NAME\" under [voice] in the config file.")
    if not everything:
        click.echo("`companion voices --all` also lists espeak-ng's voices for other languages.")


@click.command()
@click.argument("text")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the speech to this WAV file instead of playing it.")
@voice_options
@audio_options
def say(text: str, output: Path | None, **options) -> None:
    """Speak TEXT with the voice settings (to try a voice or a rate), or write it to a WAV file."""
    import soundfile as sf

    from companion.paths import make_private

    text = typed_text(text, "the text to say", limit=2000, nothing="nothing was said")
    settings = settings_for(config.SPEAKING, **options)
    voice = voice_for(settings)
    samples, rate = voice.render(text, keep=False)  # what a person types is not kept
    if output is not None:
        if output.is_dir():
            raise CompanionError(f"{output} is a folder", "give a file name, e.g. -o hello.wav")
        try:
            sf.write(str(output), samples, rate, format="WAV", subtype="PCM_16")
            make_private(output)  # 0600, also when it replaced a file that was not
        except (OSError, RuntimeError) as e:
            raise CompanionError(f"{output} cannot be written: {getattr(e, 'strerror', None) or e}", "choose a folder you can write to") from None
        click.echo(f"Wrote {len(samples) / rate:.1f} s of speech to {output} ({voice.speaking.describe()}).")
        return
    from companion.audio.playback import Speaker

    with Speaker(settings.output_device) as speaker:
        speaker.wait(speaker.play(samples, rate))


COMMANDS: list[click.Command] = [voices, say]
