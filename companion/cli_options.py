"""Option groups shared by the commands (speech engine, audio devices, voice, listening)."""

from __future__ import annotations

import click


def engine_options(f):
    f = click.option("--model", type=click.Path(), help="A speech model folder (vosk or Whisper).")(f)
    f = click.option("--engine", type=click.Choice(["vosk", "whisper"]), help="Force a speech engine.")(f)
    return f


def audio_options(f):
    f = click.option("--output-device", help="Speaker, by name or index (see `companion doctor`).")(f)
    f = click.option("--input-device", help="Microphone, by name or index (see `companion doctor`).")(f)
    return f


def voice_options(f):
    f = click.option("--volume", type=click.FloatRange(0, 1), help="Voice volume, 0 to 1.")(f)
    f = click.option("--rate", type=click.IntRange(60, 300), help="Voice speed in words a minute (default 140).")(f)
    f = click.option("--voice", help="Voice id or language, e.g. en-us, en-gb.")(f)
    return f


def listening_options(f):
    f = click.option("--wait", type=click.FloatRange(1, 600), help="Seconds to wait for an answer to begin (default 15).")(f)
    f = click.option("--silence", type=click.FloatRange(1, 60), help="Seconds of quiet that end an answer (default 4).")(f)
    return f
