"""Option groups shared by the commands (speech engine, audio devices, voice, listening)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import click

from companion import config


class Bounded(click.ParamType):
    """A number within limits, refused in a person's words ("between half a minute and an hour"),
    and shown in help by what it measures (SECONDS, MINUTES), never as `0.5<=x<=60`."""

    def __init__(self, low: float, high: float, span: str, *, whole: bool = False, unit: str = "NUMBER",
                 example: str = "") -> None:
        self.low, self.high, self.span, self.whole = low, high, span, whole
        self.name, self.example = unit.lower(), example

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.name.upper()

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text) if self.whole else float(text)
            except ValueError:
                kind = "a whole number" if self.whole else "a number"
                raise _BadValue(f"{_flag(param)} takes {kind}, not '{value}'", self._hint(), ctx, param) from None
        if number != number or not self.low <= number <= self.high:  # NaN too
            raise _BadValue(f"{_flag(param)} takes {self.span}, not {number:g}", self._hint(), ctx, param)
        return int(number) if self.whole else float(number)

    def _hint(self) -> str:
        return f"for example {self.example}" if self.example else f"give {self.span}"


def _flag(param: click.Parameter | None) -> str:
    if param is None:
        return "the value"
    return max(param.opts, key=len) if getattr(param, "opts", None) else param.human_readable_name


def engine_options(f):
    f = click.option("--model", type=click.Path(), help="A speech model folder (vosk or Whisper).")(f)
    f = click.option("--engine", type=click.Choice(["vosk", "whisper"]), help="Force a speech engine.")(f)
    return f


def audio_options(f):
    f = click.option("--output-device", help="Speaker, by name or index (see `companion doctor`).")(f)
    f = click.option("--input-device", help="Microphone, by name or index (see `companion doctor`).")(f)
    return f


def voice_options(f):
    f = click.option("--volume", type=Bounded(0, 1, "a volume from 0 (silent) to 1 (full)", unit="LEVEL",
                                               example="--volume 0.7"), help="Voice volume, 0 to 1.")(f)
    f = click.option("--rate", type=Bounded(60, 300, "from 60 to 300 words a minute", whole=True, unit="WPM",
                                             example="--rate 130"),
                     help="Voice speed in words a minute, 60 to 300 (default 140).")(f)
    f = click.option("--voice", help="Which voice speaks: joe (Piper, the default), or espeak:en-gb and other espeak-ng voices; `companion voices` lists them.")(f)
    return f


def listening_options(f):
    f = click.option("--wait", type=Bounded(1, 600, "from 1 second to 10 minutes", unit="SECONDS", example="--wait 30"),
                     help="Seconds to wait for an answer to begin (default 15).")(f)
    f = click.option("--silence", type=Bounded(1, 60, "from 1 to 60 seconds", unit="SECONDS", example="--silence 6"),
                     help="Seconds of quiet that end an answer (default 4; pauses for thinking are fine).")(f)
    return f


MAX_TEXT_CHARS = 100_000
"""Typed text longer than this (two hours of speech or more) is refused: a ripple, a note or a correction
is a few sentences, and a text this long would make search slow for everything else."""


def typed_text(text: str, what: str, *, limit: int | None = MAX_TEXT_CHARS, nothing: str = "nothing was stored") -> str:
    """Text the person typed, refused in one clear line when it is not UTF-8 or far too long."""
    from companion.errors import CompanionError

    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # bytes that were not UTF-8 arrive as lone surrogates (surrogateescape)
        code = ord(text[e.start])
        byte = f" (the byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else " (a stray character"
        after = text[: e.start][-20:]
        where = f" after '{after}')" if after.strip() else " at the start)"
        raise CompanionError(f"{what} is not valid UTF-8 text{byte}{where}",
                             f"set your terminal to UTF-8 (for example LANG=C.UTF-8) and type it again; {nothing}") from None
    if limit is not None and len(text) > limit:
        raise CompanionError(f"{what} is too long ({len(text):,} characters; at most {limit:,})",
                             f"keep it to a few sentences, or split it; {nothing}")
    return text


class _BadValue(click.BadParameter):
    """A bad option or argument value in a person's words, with Companion's own hint (see cli.main)."""

    def __init__(self, message: str, hint: str, ctx: click.Context | None, param: click.Parameter | None) -> None:
        super().__init__(message, ctx, param)
        self.hint = hint

    def format_message(self) -> str:
        return self.message


class EntryId(click.ParamType):
    """An entry id as `companion list` shows it: 12 or #12."""

    name = "id"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().removeprefix("#")
        if not (text.isascii() and text.isdigit()):
            raise _BadValue(f"'{value}' is not an entry id", "ids are whole numbers; `companion list` shows them", ctx, param)
        number = int(text)
        if number > 2**63 - 1:  # larger than SQLite can hold: there is no such entry
            from companion.errors import StorageError

            raise StorageError(f"no entry with id {number}", "`companion list` shows the ids")
        return number


ENTRY_ID = EntryId()


def settings_for(uses: tuple[str, ...], **options):
    """The settings a command uses: the config file with the options given applied. Unknown names in
    the file are a note on stderr; a bad value stops the command only if it uses that setting."""
    from companion import config

    settings = config.merged(config.load(), **{k: v for k, v in options.items() if k in config.ALL})
    for note in settings.notes:
        click.echo(f"Note: {note}.", err=True)
    return settings.check(*uses) if uses else settings


def voice_for(settings):
    """Companion's voice with these settings; a voice that is not English is a note on stderr, one
    that does not exist a clear error (before any device is opened)."""
    from companion.voice.base import VoiceSettings
    from companion.voice.choose import open_voice

    voice = open_voice(VoiceSettings(settings.voice, settings.rate, settings.volume),
                       notify=lambda note: click.echo(f"Note: {note}.", err=True))
    note = voice.language_note()
    if note:
        click.echo(f"Note: {note}.", err=True)
    return voice


@contextmanager
def store_for_reading():
    """The store for a command that shows what is kept (list, show, search, review, export, play).
    Answers a stopped Companion left on disk are stored first, so that they show too."""
    from companion.store.database import Store

    with Store.open(reading=True) as store:
        recover_waiting(store)
        yield store


def recover_waiting(store) -> None:
    """Store answers that were cut off (Companion stopped mid-answer), saying so on stderr; left for
    later when the folder cannot be written or no speech model can be loaded."""
    from companion.conversation.recovery import recover, recovered_line
    from companion.errors import CompanionError
    from companion.store.pending import waiting_answers

    if store.read_only or not waiting_answers():
        return
    try:
        engine = load_engine(settings_for(()))
    except CompanionError:
        return
    found = recover(store, engine)
    if found:
        click.echo(recovered_line(len(found)), err=True)


def command_settings(options: dict, uses: tuple[str, ...] = config.LISTENING) -> config.Settings:
    return settings_for(uses, **options)


@contextmanager
def spoken_io(settings: config.Settings, *, answers: bool = True):
    """The engine, microphone, speaker and voice for a spoken command (opened in that order, all closed).
    `answers`: the command keeps what is said, so the final-text model is loaded too."""
    from companion.audio.capture import Microphone
    from companion.audio.playback import Speaker

    voice = voice_for(settings)
    engine = load_engine(settings, answers=answers)
    with Speaker(settings.output_device) as speaker, Microphone(settings.input_device) as mic:
        yield engine, mic, speaker, voice


def load_engine(settings: config.Settings, *, answers: bool = True, background: Callable[[], None] | None = None):
    """The speech engine of the settings; for a command that keeps `answers`, with the model of their
    final text (a command that only hears spoken commands leaves it unloaded). `background`: the
    models load in a background thread, once this returns (the voice has rendered what it needs
    and let its own model go), while Companion begins to speak; which model, and whether it is
    there, is known before: a missing one is still an error at once."""
    from companion.speech import models
    from companion.speech.base import LoadingEngine

    info = models.choose(settings.engine, settings.model)
    final = final_model_for(settings, info) if answers else None
    if background is None:
        return models.load(info, final)

    def after_background():
        background()
        return models.load(info, final)

    return LoadingEngine(after_background)


def final_model_for(settings: config.Settings, info):
    """The model that writes answers' final text for a Whisper engine `info` (None: `info` itself).
    Where the default is missing or cannot be made ready, a note, and the listening model writes;
    where the person chose it, its absence is the error."""
    from companion.errors import CompanionError
    from companion.speech.whisper_base import final_model

    if info.engine != "whisper":
        return None
    chosen = "final_model" in settings.given
    try:
        return final_model(settings.final_model, chosen=chosen)
    except CompanionError as e:
        if chosen:
            raise
        click.echo(f"Note: {e.message}, so {info.name} writes the text too; {e.hint}.", err=True)
        return None
